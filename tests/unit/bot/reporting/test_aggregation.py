from __future__ import annotations

import json

import pytest

from bot.answering.answers import AnswerInput, Submission, record_submission
from bot.consultations.catalogue import (
    ConsultationError,
    ConsultationView,
    add_consultation,
    get_consultation,
)
from bot.consultations.directory import load_directory
from bot.consultations.files import parse_consultation, parse_directory
from bot.reporting.aggregation import (
    aggregate,
    comments_for,
    percent,
)
from bot.reporting.codebook import add_themes
from bot.reporting.exports.data import export_json
from storage.db import Database

CONSULTATION = """
id: poll
title: "Integrating care: next steps"
deadline: 2030-01-08T17:00
timezone: Europe/London
anonymous: {anonymous}
networks: [ics-network, mh-network, pcn-network]
questions:
  - {{id: q1, text: "Do you agree with a statutory footing?", kind: stance}}
  - id: approach
    text: "Which approach do you favour now?"
    kind: single_choice
    options: [Voluntary partnerships, Middle way, Statutory integrated authorities]
  - {{id: helps, text: "What helps?", kind: multi_choice, options: [Data, Money, Time]}}
  - {{id: why, text: "Anything else?", kind: free_text}}
"""

DIRECTORY = """
staff: [U01STAFF]
regions:
  - {id: north-west, name: North West}
  - {id: london, name: London}
networks:
  - {id: ics-network, name: ICS Network, channel: C01ICS}
  - {id: mh-network, name: Mental Health Network, channel: C01MHN}
  - {id: pcn-network, name: PCN Network, channel: C01PCN}
"""

# The poll of 40: stance 10 strongly agree, 15 agree, 8 undecided, 5 disagree, 2 strongly
# disagree (25 supportive, 7 disagree); approach 9 voluntary, 20 middle way, 11 statutory.
STANCE_OF = ["strongly_agree"] * 10 + ["agree"] * 15 + ["undecided"] * 8
STANCE_OF += ["disagree"] * 5 + ["strongly_disagree"] * 2
APPROACH_OF = ["voluntary-partnerships"] * 9 + ["middle-way"] * 20
APPROACH_OF += ["statutory-integrated-authorities"] * 11
COMMENTS = [
    "Statutory footing gives integrated care systems clear accountability for budgets.",
    "Accountability for budgets must sit with the integrated care board, not providers.",
    "Workforce shortages mean staff time for partnership meetings is scarce.",
    "Workforce pressures in primary care need funding before any new duties.",
    "Clear accountability and pooled budgets would help local partnerships.",
]


def user(i: int) -> str:
    return f"UPOLL{i:04d}"


def networks_of(i: int) -> list[str]:
    """ICS: respondents 0-29; mental health: 25-39; PCN: 0-4."""
    out = []
    if i < 30:
        out.append("ics-network")
    if i >= 25:
        out.append("mh-network")
    if i < 5:
        out.append("pcn-network")
    return out


def region_of(i: int) -> str | None:
    """North West: 0-11; London: 12-29; no region: 30-39."""
    if i < 12:
        return "north-west"
    if i < 30:
        return "london"
    return None


async def setup(db: Database, *, anonymous: bool = False) -> ConsultationView:
    await load_directory(db, parse_directory(DIRECTORY))
    spec = parse_consultation(CONSULTATION.format(anonymous=str(anonymous).lower()))
    await add_consultation(db, spec, default_timezone="Europe/London")
    return await get_consultation(db, "poll")


async def poll(db: Database, *, anonymous: bool = False) -> ConsultationView:
    """The consultation with the 40 respondents above."""
    consultation = await setup(db, anonymous=anonymous)
    async with db.session() as session:
        for i in range(40):
            answers = {
                "q1": AnswerInput(
                    choice=STANCE_OF[i], comment=COMMENTS[i % 5] if i % 2 == 0 else None
                ),
                "approach": AnswerInput(choice=APPROACH_OF[i]),
                "helps": AnswerInput(choices=("data",) if i % 2 == 0 else ("money", "time")),
            }
            if i < 10:
                answers["why"] = AnswerInput(comment=f"Point number {i} about workforce")
            await record_submission(
                session,
                Submission(
                    consultation,
                    answers,
                    user_id=user(i),
                    networks=networks_of(i),
                    region_id=region_of(i),
                    display_name=f"Member Person{i}",
                    organisation=f"Trust Number{i}",
                    quote_consent=["named", "anonymous", "no"][i % 3],
                ),
                anon_secret="secret",
            )
    return consultation


def test_percentages_round_half_up_to_one_decimal_without_float_artefacts() -> None:
    assert percent(9, 40) == 22.5
    assert percent(1, 16) == 6.3  # 6.25 -> 6.3, not banker's 6.2
    assert percent(1, 3) == 33.3
    assert percent(2, 3) == 66.7
    assert percent(0, 0) == 0.0


async def test_the_poll_of_forty_gives_the_published_percentages(db: Database) -> None:
    await poll(db)
    result = await aggregate(db, "poll")
    data = json.loads(export_json(result))

    assert data["respondents"] == 40
    approach = next(q for q in data["questions"] if q["id"] == "approach")
    assert approach["answered"] == 40
    assert approach["counts"] == {
        "voluntary-partnerships": 9,
        "middle-way": 20,
        "statutory-integrated-authorities": 11,
    }
    assert list(approach["percentages"].values()) == [22.5, 50.0, 27.5]

    q1 = data["questions"][0]
    assert q1["id"] == "q1" and q1["kind"] == "stance"
    assert list(q1["counts"]) == [
        "strongly_agree",
        "agree",
        "undecided",
        "disagree",
        "strongly_disagree",
    ]
    assert q1["percentages"] == {
        "strongly_agree": 25.0,
        "agree": 37.5,
        "undecided": 20.0,
        "disagree": 12.5,
        "strongly_disagree": 5.0,
    }
    assert q1["grouped"]["counts"] == {"supportive": 25, "undecided": 8, "disagree": 7}
    assert q1["grouped"]["percentages"] == {"supportive": 62.5, "undecided": 20.0, "disagree": 17.5}
    assert q1["comments"] == 20

    helps = next(q for q in data["questions"] if q["id"] == "helps")
    assert helps["answered"] == 40
    assert helps["counts"] == {"data": 20, "money": 20, "time": 20}
    assert helps["percentages"] == {"data": 50.0, "money": 50.0, "time": 50.0}

    why = next(q for q in data["questions"] if q["id"] == "why")
    assert (why["answered"], why["comments"], why["counts"]) == (10, 10, {})


async def test_export_json_has_the_contract_keys(db: Database) -> None:
    await poll(db)
    data = json.loads(export_json(await aggregate(db, "poll")))
    assert data["consultation"] == {
        "id": "poll",
        "title": "Integrating care: next steps",
        "deadline": "2030-01-08T17:00:00+00:00",
        "status": "draft",
        "timezone": "Europe/London",
        "anonymous": False,
    }
    assert set(data["networks"]["ics-network"]) >= {"name", "members", "respondents"}
    for question in data["questions"]:
        assert {
            "id",
            "text",
            "kind",
            "answered",
            "counts",
            "percentages",
            "by_network",
            "by_region",
            "themes",
            "comments",
        } <= set(question)
        for group in [*question["by_network"].values(), *question["by_region"].values()]:
            assert {"answered", "counts"} <= set(group)


async def test_breakdowns_by_network_and_region(db: Database) -> None:
    await poll(db)
    result = await aggregate(db, "poll")
    q1 = result.question("q1")

    ics, mh, pcn = (q1.by_network[n] for n in ("ics-network", "mh-network", "pcn-network"))
    assert (ics.answered, ics.counts["strongly_agree"], ics.counts["agree"]) == (30, 10, 15)
    assert ics.counts["undecided"] == 5
    assert mh.answered == 15
    assert mh.counts == {
        "strongly_agree": 0,
        "agree": 0,
        "undecided": 8,
        "disagree": 5,
        "strongly_disagree": 2,
    }
    assert pcn.answered == 5 and pcn.grouped is not None
    assert pcn.grouped.percentages["supportive"] == 100.0

    assert list(q1.by_region) == ["london", "north-west", "unknown"]
    assert q1.by_region["north-west"].answered == 12
    assert q1.by_region["london"].counts["agree"] == 13
    assert q1.by_region["unknown"].answered == 10
    assert result.regions["unknown"].name == "Unknown"

    assert {n: s.respondents for n, s in result.networks.items()} == {
        "ics-network": 30,
        "mh-network": 15,
        "pcn-network": 5,
    }


async def test_material_differences_are_flagged_and_small_samples_are_not(db: Database) -> None:
    await poll(db)
    q1 = (await aggregate(db, "poll")).question("q1")
    pairs = {(d.dimension, d.higher, d.lower): d for d in q1.differences}

    # ICS 25/30 supportive (83.3%) vs mental health 0/15: flagged.
    ics_mh = pairs[("network", "ics-network", "mh-network")]
    assert (ics_mh.higher_pct, ics_mh.lower_pct, ics_mh.gap) == (83.3, 0.0, 83.3)
    # North West 12/12 (100%) vs London 13/18 (72.2%): flagged.
    region = pairs[("region", "north-west", "london")]
    assert (region.higher_pct, region.lower_pct, region.gap) == (100.0, 72.2, 27.8)
    # PCN is 100% supportive but only 5 answered: never part of a flagged pair.
    assert not any("pcn-network" in (d.higher, d.lower) for d in q1.differences)
    # Respondents with no region are not a region to compare.
    assert not any("unknown" in (d.higher, d.lower) for d in q1.differences)
    assert len(q1.differences) == 2
    # Only stance questions are compared.
    assert (await aggregate(db, "poll")).question("approach").differences == []


async def test_filters_by_region_network_and_a_leads_regions(db: Database) -> None:
    await poll(db)
    north_west = await aggregate(db, "poll", region="north-west")
    assert north_west.respondents == 12
    assert north_west.question("q1").counts["strongly_agree"] == 10
    assert north_west.question("q1").counts["agree"] == 2
    assert list(north_west.question("q1").by_region) == ["north-west"]

    mental_health = await aggregate(db, "poll", network="mh-network")
    assert mental_health.respondents == 15
    assert list(mental_health.networks) == ["mh-network"]
    assert mental_health.question("approach").counts == {
        "voluntary-partnerships": 0,
        "middle-way": 4,
        "statutory-integrated-authorities": 11,
    }
    assert mental_health.question("approach").percentages["middle-way"] == 26.7

    lead = await aggregate(db, "poll", regions=frozenset({"london", "north-west"}))
    assert lead.respondents == 30
    assert set(lead.question("q1").by_region) == {"london", "north-west"}
    assert lead.question("q1").grouped is not None
    assert lead.question("q1").grouped.counts["supportive"] == 25

    nobody = await aggregate(db, "poll", regions=frozenset({"south-west"}))
    assert nobody.respondents == 0
    assert nobody.question("q1").percentages["agree"] == 0.0


async def test_members_come_from_slack_or_fall_back_to_known_members(db: Database) -> None:
    await poll(db)
    known = await aggregate(db, "poll")
    assert known.networks["ics-network"].members == 30
    assert known.networks["ics-network"].response_rate is None

    counted = await aggregate(db, "poll", network_members={"ics-network": 60, "mh-network": 20})
    ics = counted.to_export_json()["networks"]["ics-network"]
    assert ics["name"] == "ICS Network"
    assert (ics["members"], ics["respondents"], ics["response_rate"]) == (60, 30, 50.0)
    assert counted.networks["mh-network"].response_rate == 75.0
    # A network Slack was not asked about still gets a figure.
    assert counted.networks["pcn-network"].members == 5


async def test_an_edit_counts_once_with_the_latest_answer(db: Database) -> None:
    consultation = await setup(db)
    for choice in ("agree", "disagree"):
        async with db.session() as session:
            await record_submission(
                session,
                Submission(
                    consultation,
                    {
                        "q1": AnswerInput(choice=choice),
                        "approach": AnswerInput(choice="middle-way"),
                        "helps": AnswerInput(choices=("time",)),
                    },
                    user_id="U1",
                ),
                anon_secret="k",
            )
    result = await aggregate(db, "poll")
    assert result.respondents == 1
    assert result.question("q1").counts["disagree"] == 1
    assert result.question("q1").counts["agree"] == 0


async def test_comments_for_carries_consent_attribution_and_networks(db: Database) -> None:
    await poll(db)
    comments = await comments_for(db, "poll", "q1")
    assert len(comments) == 20
    first = comments[0]
    assert first.text == COMMENTS[0]
    assert first.attribution == "Member Person0, Trust Number0"
    assert first.quote_consent == "named"
    assert first.network_ids == ("ics-network", "pcn-network")
    assert first.region_id == "north-west"
    assert first.choice == "strongly_agree"

    london = await comments_for(db, "poll", "q1", region="london")
    assert {c.region_id for c in london} == {"london"}
    assert len(london) == 9

    helps = await comments_for(db, "poll", "why", network="pcn-network")
    assert [c.text for c in helps] == [f"Point number {i} about workforce" for i in range(5)]


async def test_anonymous_consultation_output_has_no_identity(db: Database) -> None:
    await poll(db, anonymous=True)
    result = await add_themes(db, await aggregate(db, "poll"))
    raw = export_json(result).decode()
    for i in range(40):
        assert user(i) not in raw
        assert f"Person{i}" not in raw
        assert f"Number{i}" not in raw
    comments = await comments_for(db, "poll", "q1")
    assert all(c.attribution is None for c in comments)
    assert all(c.respondent_key.startswith("anon-") for c in comments)


async def test_themes_quote_names_only_with_named_consent(db: Database) -> None:
    await poll(db)
    result = await add_themes(db, await aggregate(db, "poll"))
    themes = result.to_export_json()["questions"][0]["themes"]
    assert themes, "twenty comments on two subjects give at least one theme"
    assert all(0 < t["count"] <= 20 for t in themes)  # a comment may raise several themes
    quotes = [q for t in themes for q in t["quotes"]]
    named = {f"Member Person{i}, Trust Number{i}" for i in range(0, 40, 3)}
    for quote in quotes:
        if " — " in quote:
            assert quote.split(" — ", 1)[1] in named
    without = await aggregate(db, "poll")
    assert all(q.themes == [] for q in without.questions)


async def test_unknown_consultation_is_a_user_error(db: Database) -> None:
    with pytest.raises(ConsultationError, match="no consultation with id 'nope'"):
        await aggregate(db, "nope")
