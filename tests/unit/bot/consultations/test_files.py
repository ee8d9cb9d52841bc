"""The consultation file (docs/contracts.md, Consultation file) and the directory file (docs/contracts.md, Directory file): what parses, and the
one-line problems a user gets for a file that does not."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.consultations.files import (
    FileFormatError,
    load_consultation_file,
    load_directory_file,
    parse_consultation,
    parse_directory,
)

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"

VALID = """\
id: integrating-care
title: "Integrating care: next steps for ICSs"
summary: |
  NHSEI has set out ...
source_url: https://example.org/integrating-care.pdf
deadline: 2021-01-08T17:00
timezone: Europe/London
anonymous: false
networks: [ics-network, mental-health-network]
reminders: [7d, 2d, 4h]
questions:
  - id: q1
    text: "Do you agree that giving ICSs a statutory footing from 2022 ... ?"
    kind: stance
    comment: optional
  - id: approach
    text: "Which approach do you favour now?"
    kind: single_choice
    options: ["Voluntary partnerships", "Middle way", "Statutory integrated authorities"]
"""

VALID_DIRECTORY = """\
staff: [U01STAFF]
regions:
  - {id: north-west, name: North West, leads: [U01LEADNW]}
networks:
  - {id: ics-network, name: ICS Network, channel: C01ICSNET}
members:
  U01ABC: {region: north-west, organisation: Example ICS}
"""


def consultation(**overrides: str) -> str:
    """A minimal valid consultation file with top-level lines replaced or added."""
    fields = {
        "id": "ok",
        "title": "A title",
        "deadline": "2021-01-08T17:00",
        "questions": "\n  - {id: q1, text: 'Do you agree?', kind: stance}",
    }
    fields.update(overrides)
    return "\n".join(f"{key}: {value}" for key, value in fields.items()) + "\n"


def with_question(question: str) -> str:
    return consultation(questions="\n  - " + question)


def problems_of(text: str) -> list[str]:
    with pytest.raises(FileFormatError) as info:
        parse_consultation(text)
    return info.value.problems


def directory_problems_of(text: str) -> list[str]:
    with pytest.raises(FileFormatError) as info:
        parse_directory(text)
    return info.value.problems


def problem_for(problems: list[str], path: str) -> str:
    matching = [p for p in problems if p.startswith(f"{path}: ")]
    assert matching, f"no problem names {path!r}: {problems}"
    return matching[0]


# --- valid files ---------------------------------------------------------------------------


def test_design_example_parses_with_every_field() -> None:
    spec = parse_consultation(VALID)
    assert spec.id == "integrating-care"
    assert spec.title == "Integrating care: next steps for ICSs"
    assert spec.summary.startswith("NHSEI has set out")
    assert spec.source_url == "https://example.org/integrating-care.pdf"
    assert spec.networks == ["ics-network", "mental-health-network"]
    assert spec.reminders == ["7d", "2d", "4h"]
    assert [q.id for q in spec.questions] == ["q1", "approach"]
    assert spec.questions[0].comment == "optional"
    assert spec.questions[1].comment == "optional"  # the default


def test_defaults_when_optional_fields_are_left_out() -> None:
    spec = parse_consultation(consultation())
    assert spec.networks is None  # all networks
    assert spec.reminders == []
    assert spec.anonymous is False
    assert spec.timezone is None
    assert spec.source_url is None


def _example_consultations() -> list[str]:
    """Example files that are consultation files (others may be being written right now)."""
    if not EXAMPLES.is_dir():
        return []
    return sorted(
        p.name
        for p in EXAMPLES.glob("*.yaml")
        if "\nquestions:" in "\n" + p.read_text(encoding="utf-8")
    )


@pytest.mark.parametrize("name", _example_consultations())
def test_example_consultation_files_parse(name: str) -> None:
    path = EXAMPLES / name
    spec = load_consultation_file(path)
    assert spec.questions
    assert spec.deadline_utc("Europe/London").tzinfo is not None


def test_example_directory_file_parses() -> None:
    path = EXAMPLES / "directory.yaml"
    if not path.exists():
        pytest.skip("examples/directory.yaml is not there (yet)")
    directory = load_directory_file(path)
    assert directory.networks
    region_ids = {r.id for r in directory.regions}
    assert all(m.region in region_ids for m in directory.members.values() if m.region)


def test_stance_questions_offer_the_five_point_scale() -> None:
    spec = parse_consultation(VALID)
    assert spec.questions[0].choices == [
        ("strongly_agree", "Strongly agree"),
        ("agree", "Agree"),
        ("undecided", "Undecided"),
        ("disagree", "Disagree"),
        ("strongly_disagree", "Strongly disagree"),
    ]


def test_options_given_as_text_get_slug_values() -> None:
    spec = parse_consultation(VALID)
    assert spec.questions[1].choices == [
        ("voluntary-partnerships", "Voluntary partnerships"),
        ("middle-way", "Middle way"),
        ("statutory-integrated-authorities", "Statutory integrated authorities"),
    ]


def test_options_given_as_value_and_label_are_kept() -> None:
    spec = parse_consultation(
        with_question(
            "{id: q1, text: 'Which?', kind: multi_choice, options: "
            "[{value: opt-a, label: 'Option A (preferred)'}, Middle way]}"
        )
    )
    assert spec.questions[0].choices == [
        ("opt-a", "Option A (preferred)"),
        ("middle-way", "Middle way"),
    ]


def test_deadline_without_offset_is_in_the_file_timezone_in_winter() -> None:
    spec = parse_consultation(consultation(deadline="2021-01-08T17:00", timezone="Europe/London"))
    assert spec.deadline_utc("UTC") == datetime(2021, 1, 8, 17, 0, tzinfo=UTC)


def test_deadline_without_offset_is_in_the_file_timezone_in_summer() -> None:
    spec = parse_consultation(consultation(deadline="2021-07-08T17:00", timezone="Europe/London"))
    assert spec.deadline_utc("UTC") == datetime(2021, 7, 8, 16, 0, tzinfo=UTC)


def test_deadline_without_offset_or_timezone_uses_the_default_timezone() -> None:
    spec = parse_consultation(consultation(deadline="2021-07-08T17:00"))
    assert spec.deadline_utc("Europe/London") == datetime(2021, 7, 8, 16, 0, tzinfo=UTC)
    assert spec.deadline_utc("America/New_York") == datetime(2021, 7, 8, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2021-07-08T17:00+02:00", datetime(2021, 7, 8, 15, 0, tzinfo=UTC)),
        ("2021-07-08T17:00Z", datetime(2021, 7, 8, 17, 0, tzinfo=UTC)),
        ("'2021-01-08T17:00:00-05:00'", datetime(2021, 1, 8, 22, 0, tzinfo=UTC)),
    ],
)
def test_deadline_with_an_offset_keeps_that_offset(written: str, expected: datetime) -> None:
    spec = parse_consultation(consultation(deadline=written, timezone="Europe/London"))
    assert spec.deadline_utc("Europe/London") == expected


def test_valid_directory_parses() -> None:
    directory = parse_directory(VALID_DIRECTORY)
    assert directory.staff == ["U01STAFF"]
    assert directory.regions[0].leads == ["U01LEADNW"]
    assert directory.networks[0].channel == "C01ICSNET"
    assert directory.members["U01ABC"].organisation == "Example ICS"


# --- invalid consultation files: one problem naming the field path each -----------------------


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        (consultation(id="Integrating Care"), "id", "lowercase id"),
        (consultation(id="'-leading-dash'"), "id", "lowercase id"),
        (consultation(deadline="next friday"), "deadline", "datetime"),
        (consultation(deadline="2021-13-45T17:00"), "deadline", "datetime"),
        (consultation(timezone="Europe/Londres"), "timezone", "Europe/Londres"),
        (consultation(reminders="[7d, 3w]"), "reminders", "3w"),
        (consultation(reminders="[two days]"), "reminders", "two days"),
        (consultation(colour="red"), "colour", "unknown field"),
        (consultation(source_url="example.org/doc.pdf"), "source_url", ""),
        (consultation(networks="[ICS Network]"), "networks[0]", "lowercase id"),
        (consultation(questions="[]"), "questions", ""),
        (with_question("{id: q1, text: x, kind: essay}"), "questions[0].kind", ""),
        (with_question("{id: Q 1, text: x, kind: stance}"), "questions[0].id", "lowercase id"),
        (with_question("{id: q1, text: x, kind: stance, colour: red}"), "questions[0].colour", ""),
        (
            with_question("{id: q1, text: x, kind: stance, comment: maybe}"),
            "questions[0].comment",
            "",
        ),
        (
            with_question("{id: q1, text: 'Which?', kind: single_choice, options: [Only one]}"),
            "questions[0]",
            "at least two options",
        ),
        (
            with_question("{id: q1, text: 'Which?', kind: multi_choice}"),
            "questions[0]",
            "at least two options",
        ),
        (
            with_question("{id: q1, text: 'Agree?', kind: stance, options: [Agree, Disagree]}"),
            "questions[0]",
            "takes no options",
        ),
        (
            with_question(
                "{id: q1, text: 'Which?', kind: single_choice, options: "
                + str([f"Option {i}" for i in range(11)])
                + "}"
            ),
            "questions[0]",
            "at most 10 options",
        ),
        (
            with_question("{id: q1, text: 'Why?', kind: free_text, comment: none}"),
            "questions[0]",
            "free_text",
        ),
        (
            with_question(
                "{id: q1, text: 'Which?', kind: single_choice, options: [Short, '"
                + "x" * 76
                + "']}"
            ),
            "questions[0].options[1].label",
            "75",
        ),
    ],
)
def test_each_invalid_field_gets_a_problem_naming_its_path(
    text: str, path: str, words: str
) -> None:
    problem = problem_for(problems_of(text), path)
    assert words in problem


def test_missing_title_is_required() -> None:
    text = consultation()
    text = "\n".join(line for line in text.splitlines() if not line.startswith("title:"))
    assert problem_for(problems_of(text), "title") == "title: is required"


def test_missing_questions_and_deadline_are_required() -> None:
    problems = problems_of("id: ok\ntitle: T\n")
    assert "deadline: is required" in problems
    assert "questions: is required" in problems


def test_duplicate_question_ids_are_named() -> None:
    problems = problems_of(
        consultation(
            questions="\n  - {id: q1, text: a, kind: stance}\n  - {id: q1, text: b, kind: stance}"
        )
    )
    problem = problem_for(problems, "questions")
    assert "unique" in problem


def test_duplicate_question_ids_are_one_problem_that_names_the_repeated_id() -> None:
    problems = problems_of(
        consultation(
            questions="\n  - {id: q1, text: a, kind: stance}\n  - {id: q1, text: b, kind: stance}"
        )
    )
    assert problems == ["questions: question ids must be unique; repeated: q1"]


def test_free_text_with_comment_none_is_one_problem() -> None:
    problems = problems_of(with_question("{id: q1, text: 'Why?', kind: free_text, comment: none}"))
    assert len(problems) == 1


def test_duplicate_option_values_are_one_problem() -> None:
    problems = problems_of(
        with_question("{id: q1, text: 'Which?', kind: single_choice, options: [A, a, B]}")
    )
    assert problems == ["questions[0]: option values must be unique; repeated: a"]


@pytest.mark.parametrize("text", ["id: [unclosed\n", "a: b: c\n", "id: ok\n\tbad: tab\n"])
def test_not_yaml_is_one_problem(text: str) -> None:
    problems = problems_of(text)
    assert len(problems) == 1
    assert "not valid YAML" in problems[0]
    assert problems[0].startswith("line ")


@pytest.mark.parametrize("text", ["", "just a sentence\n", "- id: ok\n- id: other\n", "42\n"])
def test_not_a_mapping_is_one_problem(text: str) -> None:
    assert problems_of(text) == ["(file): expected a mapping of fields"]


def test_all_problems_are_reported_at_once() -> None:
    text = textwrap.dedent(
        """\
        id: Bad Id
        deadline: tomorrow
        timezone: Mars/Olympus
        reminders: [7d, 3w]
        colour: red
        questions:
          - {id: q1, text: 'Which?', kind: single_choice, options: [Only one]}
          - {id: q2, text: 'Agree?', kind: stance, options: [Agree, Disagree]}
          - {id: q3, text: 'Why?', kind: free_text, comment: none}
        """
    )
    problems = problems_of(text)
    for path in (
        "id",
        "title",
        "deadline",
        "timezone",
        "reminders",
        "colour",
        "questions[0]",
        "questions[1]",
        "questions[2]",
    ):
        problem_for(problems, path)


def test_file_format_error_names_the_source() -> None:
    with pytest.raises(FileFormatError) as info:
        parse_consultation(consultation(id="Bad Id"), source="consultations/bad.yaml")
    assert info.value.source == "consultations/bad.yaml"
    assert str(info.value).startswith("consultations/bad.yaml: id: ")


def test_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError) as info:
        load_consultation_file(tmp_path / "missing.yaml")
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("(file): cannot read it")


# --- invalid directory files ---------------------------------------------------------------


def test_bad_user_ids_are_named() -> None:
    problems = directory_problems_of(
        textwrap.dedent(
            """\
            staff: [bob]
            regions: [{id: north-west, name: North West, leads: [u01lower]}]
            networks: [{id: ics-network, name: ICS Network, channel: C01ICSNET}]
            """
        )
    )
    assert "Slack user id" in problem_for(problems, "staff[0]")
    assert "Slack user id" in problem_for(problems, "regions[0].leads[0]")


def test_bad_member_user_id_is_named() -> None:
    problems = directory_problems_of(
        "networks: [{id: ics-network, name: ICS Network, channel: C01ICSNET}]\n"
        "members:\n  alice: {organisation: Example ICS}\n"
    )
    assert any(p.startswith("members.alice") and "Slack user id" in p for p in problems), problems


def test_bad_channel_id_is_named() -> None:
    problems = directory_problems_of(
        "networks:\n"
        "  - {id: ics-network, name: ICS Network, channel: C01ICSNET}\n"
        "  - {id: mhn, name: Mental Health Network, channel: '#mental-health'}\n"
    )
    assert "Slack channel id" in problem_for(problems, "networks[1].channel")


def test_unknown_member_region_is_named() -> None:
    problems = directory_problems_of(
        VALID_DIRECTORY.replace("{region: north-west,", "{region: narnia,")
    )
    assert problems == ["members.U01ABC.region: unknown region 'narnia'"]


def test_duplicate_network_ids_are_named() -> None:
    problems = directory_problems_of(
        "networks:\n"
        "  - {id: ics-network, name: ICS Network, channel: C01ICSNET}\n"
        "  - {id: ics-network, name: ICS Network again, channel: C02ICSNET}\n"
    )
    problem = problem_for(problems, "networks")
    assert "unique" in problem


def test_duplicate_network_ids_name_the_repeated_id_in_the_same_problem() -> None:
    problems = directory_problems_of(
        "networks:\n"
        "  - {id: ics-network, name: ICS Network, channel: C01ICSNET}\n"
        "  - {id: ics-network, name: ICS Network again, channel: C02ICSNET}\n"
    )
    assert problems == ["networks: ids must be unique; repeated: ics-network"]


def test_directory_needs_at_least_one_network() -> None:
    problem_for(directory_problems_of("staff: [U01STAFF]\n"), "networks")


def test_directory_unknown_field_is_named() -> None:
    problems = directory_problems_of(VALID_DIRECTORY + "channels: [C01]\n")
    assert problem_for(problems, "channels") == "channels: unknown field"


def test_yes_no_options_are_text() -> None:
    spec = parse_consultation(
        with_question("{id: q1, text: 'Do you agree?', kind: single_choice, options: [Yes, No]}")
    )
    assert spec.questions[0].choices == [("yes", "Yes"), ("no", "No")]


def test_every_bad_reminder_is_reported() -> None:
    problems = problems_of(consultation(reminders="[3w, 7d, 1y]"))
    assert any("3w" in p for p in problems) and any("1y" in p for p in problems), problems


def test_directory_reports_reference_problems_next_to_field_problems() -> None:
    problems = directory_problems_of(
        "regions: [{id: north-west, name: North West}]\n"
        "networks: [{id: ics-network, name: ICS Network, channel: general}]\n"
        "members:\n  U01ABC: {region: narnia}\n"
    )
    problem_for(problems, "networks[0].channel")
    problem_for(problems, "members.U01ABC.region")


# --- scheduled launch, escalation, FAQ -------------------------------------------------------


def test_launch_at_escalate_below_and_faq_parse() -> None:
    spec = parse_consultation(
        consultation(
            launch_at="2020-12-01T09:00",
            escalate_below="30%",
            faq='\n  - q: "Why legislate now?"\n    a: "Law clarifies roles."',
        )
    )
    assert spec.launch_utc("Europe/London") == datetime(2020, 12, 1, 9, tzinfo=UTC)
    assert spec.escalate_below == 0.3
    assert [(e.q, e.a) for e in spec.faq] == [("Why legislate now?", "Law clarifies roles.")]


def test_escalate_below_as_a_fraction_is_the_same_rate() -> None:
    assert parse_consultation(consultation(escalate_below="0.3")).escalate_below == 0.3


@pytest.mark.parametrize("rate", ["130%", "0%", "lots"])
def test_an_impossible_rate_is_one_problem(rate: str) -> None:
    problem = problem_for(problems_of(consultation(escalate_below=rate)), "escalate_below")
    assert f"'{rate}'" in problem and (
        "at most 100%" in problem or "like 30%" in problem or "more than 0%" in problem
    )


def test_a_launch_after_the_deadline_is_one_problem() -> None:
    problems = problems_of(consultation(launch_at="2021-02-01T09:00"))
    assert any(p.startswith("launch_at: must be before the deadline") for p in problems), problems


def test_a_faq_entry_without_an_answer_is_named() -> None:
    problems = problems_of(consultation(faq='\n  - q: "Why legislate now?"'))
    assert problem_for(problems, "faq[0].a") == "faq[0].a: is required"
