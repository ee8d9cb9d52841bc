"""The codebook: built once, every comment coded (several themes each), staff edits kept across
rebuilds, counts and stance computed per scope, quotes only with consent."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.answering.answers import AnswerInput, Submission, record_submission
from bot.consultations.catalogue import ConsultationView, add_consultation, get_consultation
from bot.consultations.directory import load_directory
from bot.consultations.files import parse_consultation, parse_directory
from bot.reporting.aggregation import aggregate
from bot.reporting.codebook import (
    Codebook,
    CodebookError,
    ThemeEntry,
    add_themes,
    drop_theme,
    ensure_codebook,
    load_codebook,
    merge_themes,
    rename_theme,
)
from storage.db import Database
from storage.models import AuditEntry

CONSULTATION = """
id: book
title: "Integration next steps"
deadline: 2030-01-08T17:00
timezone: Europe/London
anonymous: false
networks: [ics-network]
questions:
  - {id: q1, text: "Do you agree with the proposals?", kind: stance}
"""
DIRECTORY = """
staff: [U01STAFF]
regions:
  - {id: north-west, name: North West}
  - {id: london, name: London}
networks:
  - {id: ics-network, name: ICS Network, channel: C01ICS}
"""
POOLED = [
    "Pooled budgets with the local authority would let us plan care together.",
    "We want pooled budgets for health and social care without the legal paperwork.",
    "Pooled budgets across the council and the NHS should be the default.",
    "Setting up pooled budgets takes far too long under section 75.",
]
WORKFORCE = [
    "Workforce shortages in community nursing are the real constraint.",
    "Without workforce planning across the system none of this will work.",
    "Workforce shortages mean staff cannot be released for partnership work.",
    "The workforce plan must cover social care staff as well as the NHS.",
]
DATA = [
    "Data sharing between GP practices and hospitals is still blocked.",
    "Information governance makes data sharing with councils painfully slow.",
    "Shared care records and data sharing agreements need national backing.",
    "Data sharing rules differ in every trust, which stops joined-up care.",
]
ESTATES = [
    "Estates and buildings are crumbling and capital funding is scarce.",
    "Capital for estates has been cut three years running.",
    "Our estates backlog means clinics run in unsafe buildings.",
    "Capital allocations for estates should be set for five years.",
]
PREVENTION = [
    "Prevention and public health deserve a protected share of funding.",
    "Public health grants were cut, so prevention work has stalled.",
    "Prevention should be measured as seriously as waiting times.",
    "Smoking cessation and obesity prevention need public health leadership.",
]
SUBJECTS = [POOLED, WORKFORCE, DATA, ESTATES, PREVENTION]
STANCES = ["agree", "strongly_agree", "disagree", "undecided"]
TWO_POINTS = range(40, 46)


def comment_of(i: int) -> str:
    """Respondents 0-39 make one point each (eight per subject); 40-45 make two."""
    if i < 40:
        return SUBJECTS[i % 5][(i // 5) % 4]
    return f"{POOLED[i % 4]} {WORKFORCE[(i + 1) % 4]}"


async def consultation(db: Database, respondents: range = range(46)) -> ConsultationView:
    await load_directory(db, parse_directory(DIRECTORY))
    await add_consultation(db, parse_consultation(CONSULTATION), default_timezone="Europe/London")
    view = await get_consultation(db, "book")
    await answer(db, view, respondents)
    return view


async def answer(db: Database, view: ConsultationView, respondents: range) -> None:
    async with db.session() as session:
        for i in respondents:
            await record_submission(
                session,
                Submission(
                    view,
                    {"q1": AnswerInput(choice=STANCES[i % 4], comment=comment_of(i))},
                    user_id=f"UBOOK{i:03d}",
                    networks=["ics-network"],
                    region_id="north-west" if i % 2 else "london",
                    display_name=f"Person {i}",
                    organisation=f"Trust {i}",
                    quote_consent="no" if i % 5 == 0 else "named",
                ),
                anon_secret="secret",
            )


def theme_about(codebook: Codebook, word: str) -> ThemeEntry:
    """The largest theme whose label names `word`."""
    found = [t for t in codebook.themes if word in t.label.lower()]
    assert found, f"no theme about {word}: {[t.label for t in codebook.themes]}"
    return found[0]


def raised(codebook: Codebook, *words: str) -> set[str]:
    """Everyone coded to a theme whose label names one of `words`."""
    return {
        k
        for t in codebook.themes
        if any(w in t.label.lower() for w in words)
        for k in t.respondent_keys
    }


async def test_every_comment_is_coded_and_two_points_count_in_both(db: Database) -> None:
    view = await consultation(db)
    codebook = await ensure_codebook(db, view, "q1")
    assert sorted(int(t.id[1:]) for t in codebook.themes) == list(
        range(1, len(codebook.themes) + 1)
    )
    two_points = {f"UBOOK{i:03d}" for i in TWO_POINTS}
    assert two_points <= raised(codebook, "budget") & raised(codebook, "workforce", "shortage")
    for key in two_points:
        assert len(codebook.coded[key]) >= 2
    one_point = {f"UBOOK{i:03d}" for i in range(0, 40, 5)}  # all on pooled budgets
    assert len(one_point & raised(codebook, "budget")) >= 6
    # Built once: asking again without new answers reads the same codebook back.
    again = await ensure_codebook(db, view, "q1")
    assert again.built_at == codebook.built_at


async def test_outputs_count_per_scope_with_stance_and_quote_only_with_consent(
    db: Database,
) -> None:
    await consultation(db)
    everyone = (await add_themes(db, await aggregate(db, "book"))).question("q1").themes
    london = (
        (await add_themes(db, await aggregate(db, "book", region="london"))).question("q1").themes
    )
    pooled = everyone[0]
    assert pooled.id.startswith("t")
    assert pooled.count == len(pooled.respondents)
    assert pooled.stance is not None and sum(pooled.stance.values()) == pooled.count
    assert set(pooled.stance) == {"supportive", "undecided", "disagree"}
    london_pooled = next(t for t in london if t.id == pooled.id)
    assert london_pooled.count < pooled.count
    quotes = [quote for theme in everyone for quote in theme.quotes]
    assert quotes
    for quote in quotes:
        text, _, who = quote.partition(" — ")
        assert who.startswith("Person ")  # named consent: name and organisation
        respondent = int(who.split(",")[0].removeprefix("Person "))
        assert respondent % 5 != 0, f"{who} asked not to be quoted"
        assert text in comment_of(respondent)  # verbatim


async def test_staff_edits_survive_new_answers_and_are_audited(db: Database) -> None:
    view = await consultation(db, range(40))
    codebook = await ensure_codebook(db, view, "q1")
    pooled, workforce = theme_about(codebook, "pooled"), theme_about(codebook, "workforce")
    data = theme_about(codebook, "data")
    await rename_theme(
        db, "book", "q1", pooled.id, "Pooled budgets for health and social care", "U01STAFF"
    )
    await merge_themes(db, "book", "q1", pooled.id, workforce.id, "U01STAFF")
    await drop_theme(db, "book", "q1", data.id, "U01STAFF")

    await answer(db, view, TWO_POINTS)  # new answers arrive: the codebook is rebuilt
    rebuilt = await ensure_codebook(db, view, "q1")
    assert rebuilt.built_at > codebook.built_at
    kept = rebuilt.theme(pooled.id)
    assert kept is not None and kept.label == "Pooled budgets for health and social care"
    assert kept.edited
    assert "health and social care" in kept.description
    assert rebuilt.theme(workforce.id) is None and rebuilt.theme(data.id) is None
    # The theme merged away is found again (most of it) and its comments count in the merge.
    assert len(workforce.respondent_keys & kept.respondent_keys) >= workforce.count // 2
    assert all(data.id not in ids for ids in rebuilt.coded.values())
    assert not any("data" in t.label.lower() for t in rebuilt.themes)

    async with db.session() as session:
        actions = [a.action for a in (await session.exec(select(AuditEntry))).all()]
    assert {"themes.rename", "themes.merge", "themes.drop"} <= set(actions)

    export = (await add_themes(db, await aggregate(db, "book"))).to_export_json()["questions"][0][
        "themes"
    ]
    first = next(t for t in export if t["id"] == pooled.id)
    assert first["label"] == "Pooled budgets for health and social care"
    assert first["edited"] is True


async def test_edits_are_checked(db: Database) -> None:
    view = await consultation(db, range(40))
    codebook = await ensure_codebook(db, view, "q1")
    first, second = codebook.themes[0], codebook.themes[1]
    with pytest.raises(CodebookError, match="needs a name"):
        await rename_theme(db, "book", "q1", first.id, "   ", "U01STAFF")
    with pytest.raises(CodebookError, match="already called"):
        await rename_theme(db, "book", "q1", first.id, second.label.upper(), "U01STAFF")
    with pytest.raises(CodebookError, match="two different"):
        await merge_themes(db, "book", "q1", first.id, first.id, "U01STAFF")
    with pytest.raises(CodebookError, match="no theme 't999'"):
        await drop_theme(db, "book", "q1", "t999", "U01STAFF")
    stored = await load_codebook(db, "book", "q1")
    assert stored is not None and not any(t.edited for t in stored[0].themes)
