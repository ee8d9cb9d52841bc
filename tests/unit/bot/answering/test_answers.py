from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.answering.answers import (
    AnswerInput,
    Submission,
    current_answers,
    record_submission,
    record_submissions,
    validate_answers,
)
from bot.consultations.catalogue import add_consultation, get_consultation
from bot.consultations.files import parse_consultation
from storage.db import Database
from storage.models import Answer, AnswerSelection, Response, ResponseRevision, utcnow

FILE = """
id: poll
title: Poll
deadline: 2030-01-08T17:00
anonymous: {anonymous}
questions:
  - {{id: q1, text: "Agree?", kind: stance}}
  - {{id: approach, text: "Which?", kind: single_choice, options: [Voluntary partnerships, Middle way]}}
  - {{id: helps, text: "What helps?", kind: multi_choice, options: [Data, Money, Time]}}
  - {{id: why, text: "Why?", kind: free_text, comment: required}}
"""


async def _consultation(db: Database, anonymous: bool = False):
    spec = parse_consultation(FILE.format(anonymous=str(anonymous).lower()))
    await add_consultation(db, spec, default_timezone="Europe/London")
    return await get_consultation(db, "poll")


def _answers(comment: str = "Because") -> dict[str, AnswerInput]:
    return {
        "q1": AnswerInput(choice="agree", comment="Yes <!channel>"),
        "approach": AnswerInput(choice="middle-way"),
        "helps": AnswerInput(choices=("money", "data")),
        "why": AnswerInput(comment=comment),
    }


async def test_edit_adds_a_revision_and_keeps_the_earlier_text(db: Database) -> None:
    consultation = await _consultation(db)
    async with db.session() as session:
        first = await record_submission(
            session,
            Submission(consultation, _answers("First thoughts"), user_id="U1", networks=["n1"]),
            anon_secret="k",
        )
    async with db.session() as session:
        second = await record_submission(
            session,
            Submission(consultation, _answers("Second thoughts"), user_id="U1", networks=["n1"]),
            anon_secret="k",
        )
    assert (first.revision, second.revision) == (1, 2)
    async with db.session() as session:
        comments = set((await session.exec(select(Answer.comment))).all())
        _, latest = await current_answers(session, consultation, "U1")
        selections = (await session.exec(select(AnswerSelection.value))).all()
    assert {"First thoughts", "Second thoughts", "Yes <!channel>"} <= comments
    assert latest["why"].comment == "Second thoughts"
    assert latest["helps"].choices == ("data", "money")
    assert sorted(selections) == ["data", "data", "money", "money"]


async def test_retried_delivery_and_identical_resubmission_record_one_revision(
    db: Database,
) -> None:
    consultation = await _consultation(db)
    for _ in range(3):
        async with db.session() as session:
            await record_submission(
                session,
                Submission(consultation, _answers(), user_id="U1", delivery_key="view:V1:h1"),
                anon_secret="k",
            )
    async with db.session() as session:
        result = await record_submission(
            session, Submission(consultation, _answers(), user_id="U1"), anon_secret="k"
        )
        revisions = (await session.exec(select(ResponseRevision))).all()
    assert result.changed is False
    assert len(revisions) == 1


async def test_anonymous_consultation_stores_a_pseudonym_and_no_identity(db: Database) -> None:
    consultation = await _consultation(db, anonymous=True)
    async with db.session() as session:
        await record_submission(
            session,
            Submission(
                consultation,
                _answers(),
                user_id="U1SECRET",
                display_name="Dr Jane Doe",
                organisation="Example ICS",
                quote_consent="named",
            ),
            anon_secret="k",
        )
    async with db.session() as session:
        response = (await session.exec(select(Response))).one()
    assert "U1SECRET" not in response.respondent_key
    assert response.user_id is None and response.display_name is None
    assert response.organisation is None
    assert response.quote_consent == "anonymous"


async def test_validation_speaks_to_the_member(db: Database) -> None:
    consultation = await _consultation(db)
    problems = validate_answers(
        consultation,
        {
            "q1": AnswerInput(choice="agree", comment="x" * 3001),
            "approach": AnswerInput(choice="nonsense"),
            "helps": AnswerInput(),
            "why": AnswerInput(comment="  "),
        },
    )
    assert "3,000 characters" in problems["q1"].message
    assert problems["q1"].part == "comment"
    assert problems["approach"].message == "That choice is not one of the options."
    assert problems["helps"].message == "Please tick at least one option."
    assert (problems["why"].part, problems["why"].message) == (
        "comment",
        "Please write your answer.",
    )
    assert validate_answers(consultation, _answers()) == {}


async def test_a_batch_records_each_member_once_in_order_and_skips_a_retry(db: Database) -> None:
    consultation = await _consultation(db)
    async with db.session() as session:
        await record_submission(
            session,
            Submission(consultation, _answers("Before"), user_id="U2", delivery_key="v:U2:a"),
            anon_secret="k",
        )
    earlier = utcnow()
    async with db.session() as session:
        results = await record_submissions(
            session,
            [
                Submission(consultation, _answers("First"), user_id="U1", delivery_key="v:U1:a"),
                Submission(consultation, _answers("Before"), user_id="U2", delivery_key="v:U2:a"),
                Submission(consultation, _answers("Edited"), user_id="U1", delivery_key="v:U1:b"),
                Submission(consultation, _answers("Same"), user_id="U3", networks=["n1", "n1"]),
                # Recorded late (a retry of an older submission): kept, but not made current.
                Submission(
                    consultation,
                    _answers("Stale"),
                    user_id="U1",
                    submitted_at=earlier - timedelta(minutes=5),
                ),
            ],
            anon_secret="k",
        )
    assert [(r.revision, r.changed) for r in results] == [
        (1, True),
        (1, False),  # the retried delivery stores nothing
        (2, True),
        (1, True),
        (3, False),
    ]
    async with db.session() as session:
        _, u1 = await current_answers(session, consultation, "U1")
        u1_response = (await session.exec(select(Response).where(Response.user_id == "U1"))).one()
        revisions = (await session.exec(select(ResponseRevision))).all()
    assert u1["why"].comment == "Edited"
    assert u1_response.revision_count == 3
    assert len(revisions) == 5  # U2's one, U1's three, U3's one
