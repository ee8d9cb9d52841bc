"""Recording answers: validation, revisions (an edit never overwrites), de-duplication.

`record_submission` works inside the caller's session, so the caller can write the answer and
the receipt to the outbox in one transaction, and commit before telling the member "recorded".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.answering.anonymity import pseudonym
from bot.consultations.catalogue import ConsultationView, QuestionView
from storage.db import insert_or_ignore
from storage.models import (
    Answer,
    AnswerSelection,
    ProcessedDelivery,
    Response,
    ResponseNetwork,
    ResponseRevision,
    utcnow,
)

MAX_COMMENT = 3000
QUOTE_CONSENTS = ("named", "anonymous", "no")


@dataclass(frozen=True)
class AnswerInput:
    choice: str | None = None  # stance or single choice value
    choices: tuple[str, ...] = ()  # multi choice values
    comment: str | None = None
    # Matrix: (row value, option value) per row answered, in row value order.
    rows: tuple[tuple[str, str], ...] = ()

    def normalised(self) -> AnswerInput:
        comment = (self.comment or "").strip() or None
        rows = tuple(sorted({row: choice for row, choice in self.rows if choice}.items()))
        return AnswerInput(self.choice or None, tuple(sorted(set(self.choices))), comment, rows)


@dataclass
class Submission:
    consultation: ConsultationView
    answers: dict[str, AnswerInput]  # by question key
    user_id: str | None = None  # the Slack user; None for imports without a Slack identity
    respondent_key: str | None = None  # set for imports; derived from user_id otherwise
    networks: list[str] = field(default_factory=list)
    region_id: str | None = None
    organisation: str | None = None
    display_name: str | None = None
    quote_consent: str = "anonymous"
    source: str = "slack"  # slack | import
    delivery_key: str | None = None  # Slack delivery identity, so a retry has one effect
    submitted_at: datetime | None = None


@dataclass(frozen=True)
class Problem:
    """What is wrong with one answer, and which part of it (to show it next to that field)."""

    part: str  # "choice" | "comment" | "row:<row value>" (a matrix row)
    message: str


@dataclass(frozen=True)
class RecordResult:
    response_id: int
    revision: int
    changed: bool  # False: a retry or an identical resubmission, nothing new stored


def validate_answers(
    consultation: ConsultationView, answers: dict[str, AnswerInput]
) -> dict[str, Problem]:
    """Problems by question key, in words a member understands (shown next to the field)."""
    problems: dict[str, Problem] = {}
    for question in consultation.questions:
        answer = answers.get(question.key, AnswerInput()).normalised()
        problem = _problem(question, answer)
        if problem:
            problems[question.key] = problem
    unknown = set(answers) - {q.key for q in consultation.questions}
    for key in sorted(unknown):
        problems[key] = Problem("choice", "This question is not part of the consultation.")
    return problems


def _problem(question: QuestionView, answer: AnswerInput) -> Problem | None:
    values = {o.value for o in question.options}
    if question.kind in ("stance", "single_choice"):
        if answer.choice is None:
            return Problem("choice", "Please choose an answer.")
        if answer.choice not in values:
            return Problem("choice", "That choice is not one of the options.")
    elif question.kind == "matrix":
        chosen = dict(answer.rows)
        if set(chosen) - {r.value for r in question.rows}:
            return Problem("choice", "One of the rows is not part of this question.")
        wrong = [row for row, choice in answer.rows if choice not in values]
        if wrong:
            return Problem(f"row:{wrong[0]}", "That choice is not one of the options.")
        missing = [r for r in question.rows if r.value not in chosen]
        if missing:
            return Problem(f"row:{missing[0].value}", "Please choose an answer for this row.")
    elif question.kind == "multi_choice":
        if not answer.choices:
            return Problem("choice", "Please tick at least one option.")
        if not set(answer.choices) <= values:
            return Problem("choice", "One of the ticked options is not one of the choices.")
    if answer.comment and len(answer.comment) > MAX_COMMENT:
        return Problem(
            "comment",
            f"Comments can be up to {MAX_COMMENT:,} characters; "
            f"this one has {len(answer.comment):,}.",
        )
    if question.comment == "required" and not answer.comment:
        if question.kind == "free_text":
            return Problem("comment", "Please write your answer.")
        return Problem("comment", "Please add a comment.")
    if question.comment == "none" and answer.comment:
        return Problem("comment", "This question takes no comment.")
    return None


def respondent_key_for(consultation: ConsultationView, user_id: str, anon_secret: str) -> str:
    if consultation.consultation.anonymous:
        return pseudonym(anon_secret, consultation.id, user_id)
    return user_id


async def current_answers(
    session: AsyncSession, consultation: ConsultationView, respondent_key: str
) -> tuple[Response | None, dict[str, AnswerInput]]:
    """The respondent's response and latest answers by question key (for prefilling the modal)."""
    response = (
        await session.exec(
            select(Response).where(
                Response.consultation_id == consultation.id,
                Response.respondent_key == respondent_key,
            )
        )
    ).first()
    if response is None or response.current_revision_id is None:
        return response, {}
    return response, await revision_answers(session, consultation, response.current_revision_id)


async def revision_answers(
    session: AsyncSession, consultation: ConsultationView, revision_id: int
) -> dict[str, AnswerInput]:
    keys = {q.id: q.key for q in consultation.questions}
    rows = (await session.exec(select(Answer).where(Answer.revision_id == revision_id))).all()
    selections: dict[int, list[str]] = {}
    matrix: dict[int, list[tuple[str, str]]] = {}
    if rows:
        for answer_id, value, choice in (
            await session.exec(
                select(
                    AnswerSelection.answer_id, AnswerSelection.value, AnswerSelection.choice
                ).where(col(AnswerSelection.answer_id).in_([r.id for r in rows]))
            )
        ).all():
            if choice is None:
                selections.setdefault(answer_id, []).append(value)
            else:
                matrix.setdefault(answer_id, []).append((value, choice))
    return {
        keys[row.question_id]: AnswerInput(
            row.choice,
            tuple(sorted(selections.get(row.id or 0, []))),
            row.comment,
            tuple(sorted(matrix.get(row.id or 0, []))),
        )
        for row in rows
        if row.question_id in keys
    }


async def record_submission(
    session: AsyncSession, submission: Submission, *, anon_secret: str
) -> RecordResult:
    """Store a validated submission as a new revision, in the caller's transaction."""
    consultation = submission.consultation
    anonymous = consultation.consultation.anonymous
    if submission.respondent_key is not None:
        key = submission.respondent_key
    elif submission.user_id is not None:
        key = respondent_key_for(consultation, submission.user_id, anon_secret)
    else:
        raise ValueError("a submission needs a user_id or a respondent_key")
    answers = {k: a.normalised() for k, a in submission.answers.items()}

    if submission.delivery_key is not None:
        # Slack retries carry the same delivery: a second one finds the key and does nothing.
        first = await insert_or_ignore(
            session,
            ProcessedDelivery,
            {"key": submission.delivery_key, "created_at": utcnow()},
            ["key"],
        )
        if not first:
            response, _ = await current_answers(session, consultation, key)
            assert response is not None and response.id is not None
            return RecordResult(response.id, response.revision_count, changed=False)

    now = submission.submitted_at or utcnow()
    response, previous = await current_answers(session, consultation, key)
    created = False
    if response is None:
        response = Response(
            consultation_id=consultation.id,
            respondent_key=key,
            submitted_at=now,
            updated_at=now,
            source=submission.source,
        )
        try:
            async with session.begin_nested():
                session.add(response)
                await session.flush()
            created = True
        except IntegrityError:
            # The same member's first submission raced another one; build on the winner.
            response, previous = await current_answers(session, consultation, key)
            assert response is not None
    response.user_id = None if anonymous else submission.user_id
    response.display_name = None if anonymous else submission.display_name
    response.organisation = None if anonymous else submission.organisation
    response.region_id = submission.region_id or response.region_id
    consent = submission.quote_consent if submission.quote_consent in QUOTE_CONSENTS else "no"
    response.quote_consent = "anonymous" if anonymous and consent == "named" else consent
    assert response.id is not None
    await _add_networks(session, response.id, submission.networks, new=created)

    if previous == answers and response.revision_count > 0:
        session.add(response)
        return RecordResult(response.id, response.revision_count, changed=False)

    revision = ResponseRevision(
        response_id=response.id,
        number=response.revision_count + 1,
        created_at=now,
        source=submission.source,
    )
    session.add(revision)
    await session.flush()
    assert revision.id is not None
    by_key = {q.key: q for q in consultation.questions}
    for question_key, answer in answers.items():
        question = by_key[question_key]
        row = Answer(
            revision_id=revision.id,
            question_id=question.id,
            choice=answer.choice if question.kind in ("stance", "single_choice") else None,
            comment=answer.comment if question.comment != "none" else None,
        )
        session.add(row)
        if question.kind == "multi_choice" and answer.choices:
            await session.flush()
            session.add_all(AnswerSelection(answer_id=row.id, value=v) for v in answer.choices)
        if question.kind == "matrix" and answer.rows:
            await session.flush()
            session.add_all(
                AnswerSelection(answer_id=row.id, value=r, choice=c) for r, c in answer.rows
            )
    response.revision_count = revision.number
    if response.current_revision_id is not None and now < response.updated_at:
        # Recorded out of order (a retried older submission): kept in the history, but the
        # member's newer answers stay current.
        session.add(response)
        await session.flush()
        return RecordResult(response.id, revision.number, changed=False)
    response.current_revision_id = revision.id
    response.updated_at = now
    session.add(response)
    await session.flush()
    return RecordResult(response.id, revision.number, changed=True)


async def _add_networks(
    session: AsyncSession, response_id: int, networks: list[str], *, new: bool = False
) -> None:
    if not networks:
        return
    existing: set[str] = set()
    if not new:  # a response without answers yet has no networks either: no need to look
        existing = set(
            (
                await session.exec(
                    select(ResponseNetwork.network_id).where(
                        ResponseNetwork.response_id == response_id
                    )
                )
            ).all()
        )
    session.add_all(
        ResponseNetwork(response_id=response_id, network_id=n)
        for n in sorted(set(networks) - existing)
    )
