"""Adding consultations from files and reading them back, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from bot.consultations.catalogue import (
    ConsultationError,
    add_consultation,
    get_consultation,
    is_open_for_answers,
    list_consultations,
)
from bot.consultations.directory import load_directory
from bot.consultations.files import parse_consultation, parse_directory
from storage.db import Database
from storage.models import Consultation, Question, QuestionOption

DIRECTORY = """\
networks:
  - {id: ics-network, name: ICS Network, channel: C01ICSNET}
  - {id: mental-health-network, name: Mental Health Network, channel: C01MHNET}
"""

FILE = """\
id: integrating-care
title: "Integrating care: next steps for ICSs"
summary: NHSEI has set out ...
deadline: 2021-07-08T17:00
timezone: Europe/London
networks: [ics-network]
reminders: [7d, 2d, 4h]
questions:
  - {id: q1, text: "Do you agree?", kind: stance}
  - id: approach
    text: "Which approach do you favour now?"
    kind: single_choice
    comment: none
    options: ["Voluntary partnerships", "Middle way", {value: statutory, label: Statutory}]
  - {id: why, text: "Anything else?", kind: free_text, comment: required}
"""

SECOND = """\
id: system-by-default
title: System by default
deadline: 2021-01-06T12:00
questions:
  - {id: q1, text: "Agree?", kind: stance}
"""

STANCE_SCALE = [
    ("strongly_agree", "Strongly agree"),
    ("agree", "Agree"),
    ("undecided", "Undecided"),
    ("disagree", "Disagree"),
    ("strongly_disagree", "Strongly disagree"),
]


async def test_add_then_get_returns_questions_in_order_with_options(db: Database) -> None:
    await load_directory(db, parse_directory(DIRECTORY))
    stored = await add_consultation(
        db, parse_consultation(FILE), default_timezone="UTC", actor="U01STAFF"
    )
    assert stored.status == "draft"
    view = await get_consultation(db, "integrating-care")
    c = view.consultation
    assert view.id == "integrating-care"
    assert c.title == "Integrating care: next steps for ICSs"
    assert c.networks == ["ics-network"]
    assert c.reminders == ["7d", "2d", "4h"]
    assert c.timezone == "Europe/London"
    # 17:00 in London in July, stored as the UTC instant.
    assert c.deadline.astimezone(UTC) == datetime(2021, 7, 8, 16, 0, tzinfo=UTC)
    assert [(q.key, q.kind, q.comment) for q in view.questions] == [
        ("q1", "stance", "optional"),
        ("approach", "single_choice", "none"),
        ("why", "free_text", "required"),
    ]
    stance, choice, free = view.questions
    assert [(o.value, o.label) for o in stance.options] == STANCE_SCALE
    assert [(o.value, o.label) for o in choice.options] == [
        ("voluntary-partnerships", "Voluntary partnerships"),
        ("middle-way", "Middle way"),
        ("statutory", "Statutory"),
    ]
    assert choice.label_of("middle-way") == "Middle way"
    assert free.options == []
    assert not free.has_choice and stance.has_choice


async def test_timezone_defaults_to_the_configured_one(db: Database) -> None:
    await add_consultation(db, parse_consultation(SECOND), default_timezone="Europe/London")
    c = (await get_consultation(db, "system-by-default")).consultation
    assert c.timezone == "Europe/London"
    assert c.networks is None
    assert c.deadline.astimezone(UTC) == datetime(2021, 1, 6, 12, 0, tzinfo=UTC)


async def test_a_duplicate_id_is_refused(db: Database) -> None:
    await add_consultation(db, parse_consultation(SECOND), default_timezone="Europe/London")
    with pytest.raises(ConsultationError, match="system-by-default"):
        await add_consultation(db, parse_consultation(SECOND), default_timezone="Europe/London")
    assert len(await list_consultations(db)) == 1


async def test_an_unknown_network_is_refused_and_nothing_is_stored(db: Database) -> None:
    await load_directory(db, parse_directory(DIRECTORY))
    spec = parse_consultation(FILE.replace("networks: [ics-network]", "networks: [pcn-network]"))
    with pytest.raises(ConsultationError) as info:
        await add_consultation(db, spec, default_timezone="Europe/London")
    assert "pcn-network" in str(info.value)
    assert "ics-network" in str(info.value)  # says what the directory has
    async with db.session() as session:
        assert (await session.exec(select(Consultation))).all() == []
        assert (await session.exec(select(Question))).all() == []
        assert (await session.exec(select(QuestionOption))).all() == []
    with pytest.raises(ConsultationError):
        await get_consultation(db, "integrating-care")


async def test_networks_without_a_directory_say_to_load_it(db: Database) -> None:
    with pytest.raises(ConsultationError, match="directory load"):
        await add_consultation(db, parse_consultation(FILE), default_timezone="Europe/London")


async def test_get_of_an_unknown_id_is_a_user_error(db: Database) -> None:
    with pytest.raises(ConsultationError, match="no consultation with id 'nope'"):
        await get_consultation(db, "nope")


async def test_list_counts_questions_and_orders_by_deadline(db: Database) -> None:
    assert await list_consultations(db) == []
    await load_directory(db, parse_directory(DIRECTORY))
    await add_consultation(db, parse_consultation(FILE), default_timezone="Europe/London")
    await add_consultation(db, parse_consultation(SECOND), default_timezone="Europe/London")
    items = await list_consultations(db)
    assert [(i.consultation.id, i.question_count, i.respondents) for i in items] == [
        ("system-by-default", 1, 0),
        ("integrating-care", 3, 0),
    ]
    assert [i.consultation.id for i in await list_consultations(db, statuses=("draft",))] == [
        "system-by-default",
        "integrating-care",
    ]
    assert await list_consultations(db, statuses=("open",)) == []


def test_open_for_answers_until_the_deadline() -> None:
    deadline = datetime(2021, 1, 8, 17, 0, tzinfo=UTC)
    c = Consultation(id="c", title="C", deadline=deadline, timezone="UTC", status="open")
    assert is_open_for_answers(c, now=datetime(2021, 1, 8, 16, 59, tzinfo=UTC))
    assert not is_open_for_answers(c, now=deadline)
    c.status = "draft"
    assert not is_open_for_answers(c, now=datetime(2021, 1, 1, tzinfo=UTC))
