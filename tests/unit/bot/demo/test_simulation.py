"""Tests for bot.demo.simulation and for the example consultation/directory/workspace files."""

from __future__ import annotations

import random
import re
import types
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.demo.simulation import (
    PERSONAS,
    SENTENCES,
    STANCES,
    SUPPORTIVE,
    QuestionSpec,
    SimulatedResponse,
    generate_bulk,
    questions_from_consultation,
    simulate_answer,
    simulate_responses,
    slugify,
)

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
CONSULTATIONS = ["integrating-care.yaml", "system-by-default.yaml"]

QUESTIONS = [
    QuestionSpec("q1", "Do you agree that ...?", "stance", [], "optional"),
    QuestionSpec("q2", "Do you agree that option 2 ...?", "stance", [], "optional"),
    QuestionSpec("q3", "Do you agree that ...?", "stance", [], "none"),
    QuestionSpec("q4", "Do you agree that ...?", "stance", [], "required"),
    QuestionSpec(
        "approach",
        "Which approach do you favour now?",
        "single_choice",
        ["voluntary-partnerships", "middle-way", "statutory-integrated-authorities"],
        "optional",
    ),
    QuestionSpec(
        "priorities",
        "Which of these would most help?",
        "multi_choice",
        ["clarity", "freedom", "pooled-budgets", "data-sharing", "clinical-leadership"],
        "optional",
    ),
    QuestionSpec("advice", "One piece of advice?", "free_text", [], "required"),
]
STANCE_IDS = ("q1", "q2", "q3", "q4")
MEMBERS = [f"U{i:05d}" for i in range(1000)]


def load(name: str):
    return yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def responses() -> dict[str, SimulatedResponse]:
    return simulate_responses(QUESTIONS, MEMBERS, seed=42)


def all_comments(responses) -> list[str]:
    return [a.comment for r in responses.values() for a in r.answers.values() if a.comment]


# ---------------------------------------------------------------------------------- simulation


def test_same_seed_same_responses(responses):
    assert simulate_responses(QUESTIONS, MEMBERS, seed=42) == responses


def test_other_seed_other_responses(responses):
    assert simulate_responses(QUESTIONS, MEMBERS, seed=43) != responses


def test_member_answers_do_not_depend_on_other_members(responses):
    few = simulate_responses(QUESTIONS, MEMBERS[:50], seed=42)
    assert few
    for member_id, response in few.items():
        other = responses[member_id]
        for qid, answer in response.answers.items():
            assert answer.choice == other.answers[qid].choice
            assert answer.choices == other.answers[qid].choices


def test_response_rate(responses):
    assert 0.75 <= len(responses) / len(MEMBERS) <= 0.85
    assert set(responses) <= set(MEMBERS)
    assert all(r.member_id == m for m, r in responses.items())
    everyone = simulate_responses(QUESTIONS, MEMBERS[:100], seed=1, response_rate=1.0)
    assert len(everyone) == 100
    assert simulate_responses(QUESTIONS, MEMBERS[:100], seed=1, response_rate=0.0) == {}


def test_stance_mix_roughly_as_designed(responses):
    counts = Counter(r.answers[q].choice for r in responses.values() for q in STANCE_IDS)
    total = sum(counts.values())
    supportive = (counts["strongly_agree"] + counts["agree"]) / total
    undecided = counts["undecided"] / total
    against = (counts["disagree"] + counts["strongly_disagree"]) / total
    assert 0.54 <= supportive <= 0.66
    assert 0.15 <= undecided <= 0.25
    assert 0.15 <= against <= 0.25
    assert all(counts[s] > 0 for s in STANCES)


def test_personas_shares_add_up():
    assert sum(p.share for p in PERSONAS) == pytest.approx(1.0)
    expected = sum(p.share * p.support_rate for p in PERSONAS)
    assert 0.57 <= expected <= 0.63


def test_every_choice_is_a_valid_value(responses):
    by_id = {q.id: q for q in QUESTIONS}
    for response in responses.values():
        assert set(response.answers) == set(by_id)
        assert response.quote_consent in ("named", "anonymous", "no")
        for qid, answer in response.answers.items():
            q = by_id[qid]
            if q.kind == "stance":
                assert answer.choice in STANCES and answer.choices == []
            elif q.kind == "single_choice":
                assert answer.choice in q.options and answer.choices == []
            elif q.kind == "multi_choice":
                assert answer.choice is None
                assert 1 <= len(answer.choices) <= 3
                assert len(set(answer.choices)) == len(answer.choices)
                assert set(answer.choices) <= set(q.options)
            else:
                assert answer.choice is None and answer.choices == []


def test_comment_rules(responses):
    for response in responses.values():
        assert response.answers["q3"].comment is None  # comment: none
        assert response.answers["q4"].comment  # comment: required
        assert response.answers["advice"].comment  # free_text: the comment is the answer


def test_comment_less_share_about_thirty_percent(responses):
    optional = [r.answers[q].comment for r in responses.values() for q in ("q1", "q2", "approach")]
    share = sum(c is None for c in optional) / len(optional)
    assert 0.25 <= share <= 0.35


def test_comments_are_varied(responses):
    comments = [r.answers["q1"].comment for r in responses.values() if r.answers["q1"].comment]
    assert len(set(comments)) / len(comments) > 0.9


def test_comment_wording_matches_stance(responses):
    pro = {s for theme in SENTENCES.values() for s in theme["pro"]}
    con = {s for theme in SENTENCES.values() for s in theme["con"]}
    checked = 0
    for response in responses.values():
        for qid in STANCE_IDS:
            answer = response.answers[qid]
            if not answer.comment:
                continue
            wrong = (
                con
                if answer.choice in SUPPORTIVE
                else pro
                if "disagree" in answer.choice
                else set()
            )
            assert not any(s in answer.comment for s in wrong), (answer.choice, answer.comment)
            checked += 1
    assert checked > 1000


def test_tricky_comments_planted_once_each(responses):
    comments = all_comments(responses)
    assert sum("<!channel>" in c for c in comments) == 1
    assert sum(c.startswith("=SUM(") for c in comments) == 1
    assert sum("👍" in c for c in comments) == 1
    assert sum("ICS's job" in c for c in comments) == 1
    long = [c for c in comments if len(c) > 1000]
    assert len(long) == 1 and 1100 <= len(long[0]) <= 1300
    assert any("'" in c for c in comments)


def test_simulate_answer_alone():
    rng = random.Random(5)
    persona = PERSONAS[0]
    for q in QUESTIONS:
        answer = simulate_answer(q, persona, rng)
        assert answer.choice is None or isinstance(answer.choice, str)
    with pytest.raises(ValueError):
        simulate_answer(QuestionSpec("x", "?", "single_choice", [], "optional"), persona, rng)


def test_themes_are_discoverable_by_tfidf_kmeans():
    sklearn_text = pytest.importorskip("sklearn.feature_extraction.text")
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    sentence_theme = {
        s: theme for theme, banks in SENTENCES.items() for bank in banks.values() for s in bank
    }
    questions = [QuestionSpec("q1", "?", "stance", [], "required")]
    members = [f"U{i:05d}" for i in range(2000)]
    responses = simulate_responses(questions, members, seed=3, response_rate=1.0)
    texts, truth = [], []
    for r in responses.values():
        comment = r.answers["q1"].comment or ""
        # the main theme is the theme of the first topic sentence
        first = min(
            ((comment.find(s), t) for s, t in sentence_theme.items() if s in comment),
            default=None,
        )
        if first is not None:
            texts.append(comment)
            truth.append(first[1])
    matrix = sklearn_text.TfidfVectorizer(stop_words="english", min_df=2).fit_transform(texts)
    labels = sklearn_cluster.KMeans(len(SENTENCES), n_init=5, random_state=0).fit_predict(matrix)
    purity = sum(
        Counter(t for t, lab in zip(truth, labels, strict=True) if lab == k).most_common(1)[0][1]
        for k in set(labels)
    ) / len(texts)
    assert purity > 0.6


def test_generate_bulk_is_a_lazy_deterministic_generator():
    gen = generate_bulk(QUESTIONS, 2000, seed=9)
    assert isinstance(gen, types.GeneratorType)
    first = list(gen)
    assert len(first) == 2000
    assert len({r.member_id for r in first}) == 2000
    assert first == list(generate_bulk(QUESTIONS, 2000, seed=9))
    comments = [a.comment for r in first for a in r.answers.values() if a.comment]
    assert sum("<!channel>" in c for c in comments) == 1
    assert sum(c.startswith("=SUM(") for c in comments) == 1


def test_slugify_matches_design():
    assert slugify("Middle way") == "middle-way"
    assert slugify("Data-sharing agreements") == "data-sharing-agreements"


# ---------------------------------------------------------------------------------- examples

QUESTION_KINDS = {"stance", "single_choice", "multi_choice", "free_text"}
COMMENT_RULES = {"optional", "required", "none"}
SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
USER_ID = re.compile(r"^[UW][A-Z0-9]+$")


@pytest.fixture(scope="module")
def directory():
    return load("directory.yaml")


@pytest.mark.parametrize("name", CONSULTATIONS)
def test_example_consultation_follows_design_section_5(name, directory):
    data = load(name)
    assert SLUG.match(data["id"]) and data["id"] == name.removesuffix(".yaml")
    assert isinstance(data["title"], str) and data["title"]
    assert isinstance(data["summary"], str) and len(data["summary"]) > 200
    assert str(data.get("source_url", "https://")).startswith("https://")
    ZoneInfo(data.get("timezone", "Europe/London"))
    deadline = datetime.fromisoformat(str(data["deadline"]))
    assert deadline.year in (2020, 2021)
    assert isinstance(data["anonymous"], bool)
    network_ids = {n["id"] for n in directory["networks"]}
    assert set(data.get("networks", network_ids)) <= network_ids
    assert all(re.fullmatch(r"\d+[smhd]", str(r)) for r in data["reminders"])
    ids = [q["id"] for q in data["questions"]]
    assert len(ids) == len(set(ids))
    for q in data["questions"]:
        assert q["kind"] in QUESTION_KINDS
        assert q.get("comment", "optional") in COMMENT_RULES
        assert q["text"]
        if q["kind"] in ("single_choice", "multi_choice"):
            values = [o["value"] if isinstance(o, dict) else slugify(o) for o in q["options"]]
            assert len(values) >= 2 and len(set(values)) == len(values)
        else:
            assert "options" not in q
        if q["kind"] == "free_text":
            assert q["comment"] == "required"
    # and the simulation can answer it
    questions = questions_from_consultation(data)
    result = simulate_responses(questions, [f"U{i}" for i in range(30)], seed=0)
    assert result


def test_integrating_care_matches_the_real_consultation():
    data = load("integrating-care.yaml")
    assert data["deadline"] == "2021-01-08T17:00"
    assert data["timezone"] == "Europe/London"
    assert data["reminders"] == ["7d", "2d", "4h"]
    assert "networks" not in data and data["anonymous"] is False
    assert [q["kind"] for q in data["questions"]] == ["stance"] * 4
    assert all(q["text"].startswith("Do you agree") for q in data["questions"])


def test_system_by_default_is_anonymous_poll_of_ics_network():
    data = load("system-by-default.yaml")
    assert data["anonymous"] is True and data["networks"] == ["ics-network"]
    kinds = Counter(q["kind"] for q in data["questions"])
    assert kinds["single_choice"] == 2 and kinds["multi_choice"] == 1 and kinds["free_text"] == 1
    assert kinds["stance"] >= 2


def test_example_directory_follows_design_section_6(directory):
    assert directory["staff"] and all(USER_ID.match(u) for u in directory["staff"])
    regions = {r["id"]: r for r in directory["regions"]}
    assert len(regions) == 7
    for region in regions.values():
        assert SLUG.match(region["id"]) and region["name"]
        assert 1 <= len(region["leads"]) <= 2 and all(USER_ID.match(u) for u in region["leads"])
    networks = {n["id"]: n for n in directory["networks"]}
    assert set(networks) == {
        "ics-network",
        "mental-health-network",
        "nhs-clinical-commissioners",
        "community-network",
        "pcn-network",
    }
    assert all(re.fullmatch(r"C[A-Z0-9]+", n["channel"]) for n in networks.values())
    for user_id, member in directory["members"].items():
        assert USER_ID.match(user_id)
        assert member["region"] in regions
        assert isinstance(member["organisation"], str) and member["organisation"]


def test_demo_workspace_matches_directory(directory):
    workspace = load("demo-workspace.yaml")
    users = {u["id"]: u for u in workspace["users"]}
    assert len(users) == len(workspace["users"])
    for user in users.values():
        ZoneInfo(user["tz"])
        assert user["name"] and user["real_name"]
    channels = {c["id"]: c for c in workspace["channels"]}
    assert set(channels) == {n["channel"] for n in directory["networks"]}
    in_channels = {m for c in channels.values() for m in c["members"]}
    assert in_channels <= set(users)
    humans = {m for m in in_channels if not users[m].get("is_bot") and not users[m].get("deleted")}
    assert 40 <= len(humans) <= 50
    assert any(users[m].get("is_bot") for m in in_channels)
    assert any(users[m].get("deleted") for m in in_channels)
    assert any(users[m]["tz"] != "Europe/London" for m in humans)
    members = set(directory["members"])
    assert members <= humans
    assert 1 <= len(humans - members) <= 6  # left out on purpose: the bot asks them
    per_member = Counter(m for c in channels.values() for m in c["members"] if m in humans)
    assert any(n > 1 for n in per_member.values())
    for user_id in directory["staff"] + [u for r in directory["regions"] for u in r["leads"]]:
        assert user_id in users
