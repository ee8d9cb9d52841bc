"""The draft formal response: house-style sentences, checked figures, consent and anonymity."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from bot.answering.answers import AnswerInput, Submission, record_submission
from bot.consultations.catalogue import add_consultation, get_consultation
from bot.consultations.directory import load_directory
from bot.consultations.files import parse_consultation, parse_directory
from bot.reporting.aggregation import Aggregate, material_differences
from bot.reporting.drafting import (
    Cell,
    FigureCheckError,
    Statement,
    build_draft,
    render_markdown,
    suggest_position,
    verify_figures,
)
from bot.reporting.exports.draft import write_draft
from bot.reporting.exports.draft_docx import render_docx
from storage.db import Database

STANCES = ("strongly_agree", "agree", "undecided", "disagree", "strongly_disagree")
APPROACH = [
    ("voluntary-partnerships", "Voluntary partnerships"),
    ("middle-way", "Middle way"),
    ("statutory-integrated-authorities", "Statutory integrated authorities"),
]
HELPS = [("data", "Data"), ("money", "Money"), ("time", "Time")]


def percent(count: int, total: int) -> float:
    return (count * 2000 + total) // (2 * total) / 10 if total else 0.0


def breakdown(rows: list[Any], values: list[str], multi: bool = False) -> dict[str, Any]:
    counts = {v: 0 for v in values}
    answered = 0
    for row in rows:
        if row is None or row == ():
            continue
        answered += 1
        for value in row if multi else (row,):
            counts[value] += 1
    return {
        "answered": answered,
        "counts": counts,
        "percentages": {v: percent(c, answered) for v, c in counts.items()},
    }


# The poll of 40: stance 5/20/8/5/2 (25 supportive, 8 undecided, 7 disagree) with the ICS Network
# far more supportive than the Mental Health Network; approach 9/20/11.
def poll_of_forty() -> list[dict[str, Any]]:
    stance = ["strongly_agree"] * 5 + ["agree"] * 20 + ["undecided"] * 8
    stance += ["disagree"] * 5 + ["strongly_disagree"] * 2
    # Respondents 0-29: ICS Network; 30-39: Mental Health Network. The MH network gets 4 agree
    # (40 per cent supportive) and the ICS Network 21 (70 per cent).
    order = list(range(40))
    mh = [21, 22, 23, 24, 25, 26, 27, 28, 29, 30]  # 4 agree, 6 undecided/disagree
    ics = [i for i in order if i not in mh]
    networks = {i: "ics-network" for i in ics} | {i: "mental-health-network" for i in mh}
    approach = ["voluntary-partnerships"] * 9 + ["middle-way"] * 20
    approach += ["statutory-integrated-authorities"] * 11
    people = []
    for i in range(40):
        consent = ("named", "anonymous", "no")[i % 3]
        people.append(
            {
                "key": f"U{i:03d}",
                "name": f"Person{i:03d} Secretname",
                "organisation": f"Org{i:03d} Trust",
                "network": networks[i],
                "region": "north-west" if i % 2 else "london",
                "consent": consent,
                "q1": stance[i],
                "approach": approach[i],
                "helps": (("data", "money") if i % 3 else ("data",)) if i % 4 else ("time",),
                "comment": f"Workforce pressures and staffing shortfalls matter, says member {i}.",
            }
        )
    people[2]["comment"] = "CONFIDENTIAL do not quote me about workforce pressures at all."
    return people


def make_export(people: list[dict[str, Any]], *, differences: bool = True) -> dict[str, Any]:
    networks = {"ics-network": "ICS Network", "mental-health-network": "Mental Health Network"}
    members = {"ics-network": 60, "mental-health-network": 40}
    regions = {"north-west": "North West", "london": "London"}

    def question(qid: str, text: str, kind: str, values: list[str], multi: bool = False):
        rows = [p[qid] for p in people]
        q = {"id": qid, "text": text, "kind": kind, **breakdown(rows, values, multi)}
        q["by_network"] = {
            n: breakdown([p[qid] for p in people if p["network"] == n], values, multi)
            for n in networks
        }
        q["by_region"] = {
            r: breakdown([p[qid] for p in people if p["region"] == r], values, multi)
            for r in regions
        }
        q["themes"], q["comments"] = [], 0
        return q

    q1 = question("q1", "Do you agree with a statutory footing?", "stance", list(STANCES))
    named = next(p for p in people if p["consent"] == "named")
    q1["themes"] = [
        {
            "label": "workforce pressures / staffing",
            "count": 12,
            "quotes": [
                # A theme extractor must never pick this one; the draft drops it regardless.
                people[2]["comment"],
                f"{named['comment']} — {named['name']}, {named['organisation']}",
                people[1]["comment"],
            ],
        }
    ]
    q1["comments"] = len(people)
    if differences:
        q1["differences"] = []
    approach = question(
        "approach", "Which approach do you favour now?", "single_choice", [v for v, _ in APPROACH]
    )
    approach["options"] = [{"value": v, "label": label} for v, label in APPROACH]
    helps = question("helps", "What helps?", "multi_choice", [v for v, _ in HELPS], multi=True)
    helps["options"] = [{"value": v, "label": label} for v, label in HELPS]
    return {
        "consultation": {
            "id": "poll",
            "title": "Integrating care",
            "deadline": "",
            "status": "open",
        },
        "respondents": len(people),
        "networks": {
            n: {
                "name": name,
                "members": members[n],
                "respondents": sum(p["network"] == n for p in people),
                "response_rate": percent(sum(p["network"] == n for p in people), members[n]),
            }
            for n, name in networks.items()
        },
        "regions": {r: {"name": name} for r, name in regions.items()},
        "questions": [q1, approach, helps],
    }


def as_aggregate(export: dict[str, Any]) -> Aggregate:
    """The typed aggregate the draft reads; material differences found by the aggregation's rule
    unless the export lists its own."""
    result = Aggregate.model_validate(export)
    for question, raw in zip(result.questions, export["questions"], strict=True):
        if question.kind == "stance" and "differences" not in raw:
            question.differences = material_differences(
                "network", question.by_network
            ) + material_differences("region", question.by_region)
    return result


def comments(people: list[dict[str, Any]], *, anonymous: bool = False) -> dict[str, list]:
    return {
        "q1": [
            {
                "respondent_key": p["key"],
                "text": p["comment"],
                "quote_consent": p["consent"],
                "attribution": None if anonymous else f"{p['name']}, {p['organisation']}",
                "choice": p["q1"],
            }
            for p in people
        ]
    }


META = {"title": "Integrating care", "deadline": "Friday 8 January 2021, 5pm"}


def draft_of(people=None, *, anonymous: bool = False, export=None, **kwargs: Any):
    people = people or poll_of_forty()
    export = as_aggregate(export or make_export(people))
    meta = {**META, "anonymous": anonymous}
    draft = build_draft(
        export,
        comments(people, anonymous=anonymous),
        consultation_meta=meta,
        with_charts=kwargs.pop("with_charts", False),
        **kwargs,
    )
    return draft, export


def test_headlines_are_in_house_style() -> None:
    draft, export = draft_of()
    verify_figures(draft, export)
    text, _ = render_markdown(draft)
    single = next(s.text for s in draft.questions[1].headline)
    assert single.startswith("Just under a quarter (22.5 per cent) of respondents favoured")
    assert "half (50 per cent) favouring middle way" in single
    assert "just over a quarter (27.5 per cent) favouring statutory integrated" in single
    stance = draft.questions[0].headline[0].text
    assert stance.startswith("Almost two thirds (62.5 per cent) of respondents were supportive")
    assert "17.5 per cent disagreed and 20 per cent were undecided" in stance
    assert "12.5 per cent who strongly agreed" in draft.questions[0].headline[1].text
    multi = draft.questions[2].headline[0].text
    assert multi.startswith("The most commonly selected option was data (75 per cent")
    assert "followed by money (50 per cent) and time (25 per cent)" in multi
    for expected in (single, stance, "Question 2: Which approach do you favour now?"):
        assert expected in text


def test_introduction_names_networks_response_rates_and_dates() -> None:
    draft, _ = draft_of()
    intro = " ".join(s.text for s in draft.introduction)
    assert "the ICS Network and the Mental Health Network" in intro
    assert "40 members responded: 30 from the ICS Network (50 per cent of its 60 members)" in intro
    assert "10 from the Mental Health Network (25 per cent of its 40 members)" in intro
    assert "Friday 8 January 2021, 5pm" in intro


def test_material_differences_are_called_out_from_the_counts() -> None:
    people = poll_of_forty()
    draft, export = draft_of(people, export=make_export(people, differences=False))
    verify_figures(draft, export)
    [difference] = draft.questions[0].differences
    assert difference.text == (
        "Members of the Mental Health Network were notably less supportive (40 per cent) "
        "than those of the ICS Network (70 per cent)."
    )
    assert "differed" in draft.questions[0].position[0].text


def test_differences_listed_by_the_export_are_worded_with_recomputed_figures() -> None:
    people = poll_of_forty()
    export = make_export(people)
    export["questions"][0]["differences"] = [
        {
            "dimension": "region",
            "higher": "london",
            "lower": "north-west",
            "higher_pct": 1.0,
            "lower_pct": 0.0,
            "gap": 1.0,
        }
    ]
    draft, export = draft_of(people, export=export)
    [difference] = draft.questions[0].differences
    supportive = {
        region: sum(p["q1"] in STANCES[:2] for p in people if p["region"] == region) / 20 * 100
        for region in ("london", "north-west")
    }
    assert (
        f"Respondents in North West were notably less supportive ({supportive['north-west']:.0f} per cent)"
        in difference.text
    )
    assert f"than those in London ({supportive['london']:.0f} per cent)" in difference.text
    verify_figures(draft, export)


def test_verify_catches_a_tampered_figure() -> None:
    draft, export = draft_of()
    headline = draft.questions[0].headline[0]
    draft.questions[0].headline[0] = dataclasses.replace(
        headline, text=headline.text.replace("62.5 per cent", "72.5 per cent")
    )
    with pytest.raises(FigureCheckError, match=re.escape("72.5 per cent")) as caught:
        verify_figures(draft, export)
    assert "\n" not in str(caught.value)  # one line, as the CLI prints it
    # The figure is not the data's, and "almost two thirds" no longer fits the figure either.
    assert len(caught.value.problems) == 2
    assert "'almost two thirds' does not describe 72.5" in caught.value.problems[1]


def test_verify_catches_words_that_misdescribe_the_figure() -> None:
    draft, export = draft_of()
    headline = draft.questions[1].headline[0]
    draft.questions[1].headline[0] = dataclasses.replace(
        headline, text=headline.text.replace("Just under a quarter", "Almost half")
    )
    with pytest.raises(FigureCheckError, match=re.escape("'almost half' does not describe 22.5")):
        verify_figures(draft, export)


def test_verify_catches_an_unbacked_figure_a_table_and_a_changed_count() -> None:
    draft, export = draft_of()
    draft.questions[0].position.append(Statement("Some 90 per cent of members agree."))
    with pytest.raises(FigureCheckError, match="90 per cent"):
        verify_figures(draft, export)

    draft, export = draft_of()
    row = draft.questions[1].tables[0].rows[1]
    row[2] = Cell("55%", row[2].claim)
    with pytest.raises(FigureCheckError, match="55%"):
        verify_figures(draft, export)

    draft, export = draft_of()
    tampered = export.model_copy(deep=True)
    tampered.questions[1].counts["middle-way"] = 19  # the data changed under the draft
    with pytest.raises(FigureCheckError):
        verify_figures(draft, tampered)


def test_consent_no_is_never_quoted_and_named_quotes_are_attributed() -> None:
    draft, _ = draft_of()
    [theme] = draft.questions[0].themes
    assert theme.label == "Workforce pressures / staffing"
    assert theme.raised.text == "raised by 12 respondents"
    quoted = [q.text for q in theme.quotes]
    assert all("CONFIDENTIAL" not in text for text in quoted)
    assert len(quoted) == 2
    named = [q for q in theme.quotes if q.attribution]
    assert named == [theme.quotes[0]]
    assert named[0].attribution == "Person000 Secretname, Org000 Trust"
    text, _ = render_markdown(draft)
    body, appendix = text.split("## Appendix")
    assert "CONFIDENTIAL" not in body
    # The appendix keeps every comment, but never attributes one without named consent.
    line = next(line for line in appendix.splitlines() if "CONFIDENTIAL" in line)
    assert "Person002" not in line and "Org002" not in line
    assert "Comments are reproduced without attribution unless the member agreed" in appendix


def test_anonymous_draft_carries_no_identity() -> None:
    draft, export = draft_of(anonymous=True, with_charts=True)
    verify_figures(draft, export)
    text, files = render_markdown(draft)
    doc = Document(io.BytesIO(render_docx(draft)))
    docx_text = "\n".join(p.text for p in doc.paragraphs)
    docx_text += "\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells)
    for output in (text, docx_text):
        for secret in ("Secretname", "Org0", "U000", "U001", "Trust"):
            assert secret not in output
        assert "no respondent is identified" in output
    assert files  # the charts are still there


def test_suggested_positions_follow_the_rules() -> None:
    def typed(question: dict[str, Any]) -> Aggregate:
        consultation = {"id": "c", "title": "?", "deadline": "", "status": "open"}
        return Aggregate.model_validate(
            {"consultation": consultation, "respondents": 0, "questions": [question]}
        )

    def stance(sa: int, a: int, u: int, d: int, sd: int) -> Aggregate:
        counts = dict(zip(STANCES, (sa, a, u, d, sd), strict=True))
        q = {"id": "q", "text": "?", "kind": "stance", "answered": sum(counts.values())}
        return typed({**q, "counts": counts})

    cases = {
        (5, 20, 8, 5, 2): "support",
        (0, 10, 5, 20, 5): "oppose",
        (0, 20, 15, 15, 0): "broadly_support",
        (0, 15, 15, 20, 0): "reservations",
        (0, 15, 20, 15, 0): "mixed",
        (0, 0, 0, 0, 0): "no_answers",
    }
    for counts, rule in cases.items():
        export = stance(*counts)
        assert suggest_position(export, export.questions[0])[0] == rule, counts

    def choice(*counts: int) -> str:
        values = {f"o{i}": n for i, n in enumerate(counts)}
        q = {"id": "c", "text": "?", "kind": "single_choice", "answered": sum(counts)}
        options = [{"value": v, "label": v} for v in values]
        export = typed({**q, "counts": values, "options": options})
        return suggest_position(export, export.questions[0])[0]

    assert choice(9, 20, 11) == "prefer"
    assert choice(9, 21, 10) == "favour"
    assert choice(15, 16, 9) == "divided"


def test_appendix_is_capped_with_a_pointer_to_the_csv() -> None:
    draft, _ = draft_of(appendix_limit=25)
    section = draft.appendix[0]
    assert len(section.comments) == 25 and section.total == 40
    assert section.more == "…and 15 more comments: see the CSV export."


DIRECTORY = """
staff: [U01STAFF]
regions:
  - {id: north-west, name: North West}
  - {id: london, name: London}
networks:
  - {id: ics-network, name: ICS Network, channel: C01ICS}
  - {id: mental-health-network, name: Mental Health Network, channel: C01MHN}
"""

CONSULTATION = """
id: poll
title: "Integrating care: next steps"
deadline: 2030-01-08T17:00
timezone: Europe/London
anonymous: {anonymous}
questions:
  - {{id: q1, text: "Do you agree with a statutory footing?", kind: stance}}
  - id: approach
    text: "Which approach do you favour now?"
    kind: single_choice
    options: [Voluntary partnerships, Middle way, Statutory integrated authorities]
  - {{id: helps, text: "What helps?", kind: multi_choice, options: [Data, Money, Time]}}
  - {{id: why, text: "Anything else?", kind: free_text}}
"""

FREE_TEXT = [
    "Workforce pressures and staff shortages are the main risk to integration.",
    "Data sharing between partners needs clear governance and shared records.",
    "Funding flows and financial allocation must follow the patient pathway.",
]


async def _record_poll(db: Database, *, anonymous: bool) -> list[dict[str, Any]]:
    await load_directory(db, parse_directory(DIRECTORY))
    await add_consultation(
        db,
        parse_consultation(CONSULTATION.format(anonymous=str(anonymous).lower())),
        default_timezone="Europe/London",
    )
    consultation = await get_consultation(db, "poll")
    people = poll_of_forty()
    async with db.session() as session:
        for i, p in enumerate(people):
            answers = {
                "q1": AnswerInput(choice=p["q1"], comment=p["comment"]),
                "approach": AnswerInput(choice=p["approach"]),
                "helps": AnswerInput(choices=p["helps"]),
                "why": AnswerInput(comment=f"{FREE_TEXT[i % 3]} Member {i}."),
            }
            await record_submission(
                session,
                Submission(
                    consultation,
                    answers,
                    user_id=p["key"],
                    networks=[p["network"]],
                    region_id=p["region"],
                    organisation=p["organisation"],
                    display_name=p["name"],
                    quote_consent=p["consent"],
                ),
                anon_secret="k",
            )
    return people


async def test_write_draft_from_recorded_answers(db: Database, tmp_path: Path) -> None:
    await _record_poll(db, anonymous=False)
    stages: list[str] = []
    written = await write_draft(db, "poll", "md", tmp_path / "draft.md", progress=stages.append)
    assert written[0] == tmp_path / "draft.md"
    assert {p.name for p in written[1:]} == {
        "q01-q1.png",
        "q02-approach.png",
        "q03-helps.png",
        "q04-why.png",
    }
    assert all(p.parent == tmp_path / "charts" for p in written[1:])
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in written[1:])
    text = written[0].read_text()
    assert (
        "Just under a quarter (22.5 per cent) of respondents favoured voluntary partnerships, "
        "with half (50 per cent) favouring middle way and just over a quarter (27.5 per cent) "
        "favouring statutory integrated authorities."
    ) in text
    assert "Almost two thirds (62.5 per cent) of respondents were supportive" in text
    assert (
        "Members of the Mental Health Network were notably less supportive (40 per cent) "
        "than those of the ICS Network (70 per cent)."
    ) in text
    assert "40 respondents answered; the main themes were" in text
    body, appendix = text.split("## Appendix")
    assert "CONFIDENTIAL" not in body and "CONFIDENTIAL" in appendix
    assert "](charts/q01-q1.png)" in body
    assert stages[-1] == "Done" and "Checking every figure against the data" in stages

    [docx_path] = await write_draft(db, "poll", "docx", tmp_path / "draft.docx")
    doc = Document(str(docx_path))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    for question in ("statutory footing?", "favour now?", "What helps?", "Anything else?"):
        assert any(question in h for h in headings)
    assert len(doc.inline_shapes) >= 4
    assert doc.tables


async def test_write_draft_of_an_anonymous_consultation_names_nobody(
    db: Database, tmp_path: Path
) -> None:
    people = await _record_poll(db, anonymous=True)
    [md_path, *_] = await write_draft(db, "poll", "md", tmp_path)
    [docx_path] = await write_draft(db, "poll", "docx", tmp_path)
    assert md_path.name == "poll-draft-response.md" and docx_path.suffix == ".docx"
    doc = Document(str(docx_path))
    docx_text = "\n".join(p.text for p in doc.paragraphs)
    docx_text += "\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells)
    md_text = md_path.read_text()
    for output in (md_text, docx_text):
        assert "Workforce pressures and staffing shortfalls" in output
        for p in people:
            for secret in (p["key"], p["name"], p["organisation"]):
                assert secret not in output
