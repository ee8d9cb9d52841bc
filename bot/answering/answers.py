"""Recording answers: validation, revisions (an edit never overwrites), de-duplication.

`record_submission` works inside the caller's session, so the caller can write the answer and
the receipt to the outbox in one transaction, and commit before telling the member "recorded".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert
from sqlalchemy import update as sa_update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.answering.anonymity import pseudonym
from bot.consultations.catalogue import ConsultationView, QuestionView
from storage.db import insert_many_returning
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
    values = question.option_values
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
    return (await record_submissions(session, [submission], anon_secret=anon_secret))[0]


async def record_submissions(
    session: AsyncSession, submissions: Sequence[Submission], *, anon_secret: str
) -> list[RecordResult]:
    """Store validated submissions as new revisions, in the caller's transaction, with a few
    statements for the whole batch (not a few per answer): a deadline rush is recorded as fast
    as it is accepted. Results are in the order of `submissions`.

    Two submissions of one respondent in a batch are recorded one after the other, in order."""
    keys = [_respondent_key(s, anon_secret) for s in submissions]
    results: list[RecordResult | None] = [None] * len(submissions)
    pending = list(range(len(submissions)))
    await session.flush()  # what the caller added (a profile) goes first
    while pending:
        seen: set[tuple[str, str]] = set()
        this_round: list[int] = []
        later: list[int] = []
        for i in pending:
            who = (submissions[i].consultation.id, keys[i])
            (later if who in seen else this_round).append(i)
            seen.add(who)
        recorded = await _record_round(
            session, [submissions[i] for i in this_round], [keys[i] for i in this_round]
        )
        for i, result in zip(this_round, recorded, strict=True):
            results[i] = result
        pending = later
    return [r for r in results if r is not None]


def _respondent_key(submission: Submission, anon_secret: str) -> str:
    if submission.respondent_key is not None:
        return submission.respondent_key
    if submission.user_id is not None:
        return respondent_key_for(submission.consultation, submission.user_id, anon_secret)
    raise ValueError("a submission needs a user_id or a respondent_key")


_RESPONSES = Response.__table__  # type: ignore[attr-defined]


async def _responses_of(
    connection: AsyncConnection, whom: set[tuple[str, str]]
) -> dict[tuple[str, str], Row[Any]]:
    """The responses of (consultation id, respondent key) pairs, as plain rows."""
    if not whom:
        return {}
    found: dict[tuple[str, str], Row[Any]] = {}
    consultations = {c for c, _ in whom}
    respondents = sorted({k for _, k in whom})
    for start in range(0, len(respondents), 500):
        rows = await connection.execute(
            select(_RESPONSES).where(
                col(Response.consultation_id).in_(consultations),
                col(Response.respondent_key).in_(respondents[start : start + 500]),
            )
        )
        for row in rows:
            if (row.consultation_id, row.respondent_key) in whom:
                found[(row.consultation_id, row.respondent_key)] = row
    return found


async def _answers_of_revisions(
    connection: AsyncConnection, revision_ids: list[int]
) -> dict[int, dict[int, AnswerInput]]:
    """Answers by revision id, then by question id."""
    by_revision: dict[int, dict[int, AnswerInput]] = {}
    for start in range(0, len(revision_ids), 500):
        chunk = revision_ids[start : start + 500]
        answers = (
            await connection.execute(
                select(
                    Answer.id, Answer.revision_id, Answer.question_id, Answer.choice, Answer.comment
                ).where(col(Answer.revision_id).in_(chunk))
            )
        ).all()
        selections: dict[int, list[str]] = {}
        matrix: dict[int, list[tuple[str, str]]] = {}
        if answers:
            for answer_id, value, choice in (
                await connection.execute(
                    select(
                        AnswerSelection.answer_id, AnswerSelection.value, AnswerSelection.choice
                    ).where(col(AnswerSelection.answer_id).in_([a.id for a in answers]))
                )
            ).all():
                if choice is None:
                    selections.setdefault(answer_id, []).append(value)
                else:  # a matrix row's choice
                    matrix.setdefault(answer_id, []).append((value, choice))
        for a in answers:
            by_revision.setdefault(a.revision_id, {})[a.question_id] = AnswerInput(
                a.choice,
                tuple(sorted(selections.get(a.id, []))),
                a.comment,
                tuple(sorted(matrix.get(a.id, []))),
            )
    return by_revision


async def _record_round(
    session: AsyncSession, submissions: list[Submission], keys: list[str]
) -> list[RecordResult]:
    """`record_submissions` for submissions of different respondents."""
    connection = await session.connection()
    now = utcnow()
    # Slack retries carry the same delivery: a second one finds the key and does nothing.
    deliveries = [s.delivery_key for s in submissions if s.delivery_key is not None]
    first_time = set(
        await insert_many_returning(
            session,
            ProcessedDelivery,
            [{"key": key, "created_at": now} for key in deliveries],
            ["key"],
        )
    )
    repeated = [
        s.delivery_key is not None and s.delivery_key not in first_time for s in submissions
    ]
    whom = [(s.consultation.id, k) for s, k in zip(submissions, keys, strict=True)]
    responses = await _responses_of(connection, set(whom))
    missing = [i for i, who in enumerate(whom) if who not in responses and not repeated[i]]
    if missing:
        await insert_many_returning(
            session,
            Response,
            [
                {
                    "consultation_id": whom[i][0],
                    "respondent_key": whom[i][1],
                    "submitted_at": submissions[i].submitted_at or now,
                    "updated_at": submissions[i].submitted_at or now,
                    "source": submissions[i].source,
                    "quote_consent": "anonymous",
                    "revision_count": 0,
                }
                for i in missing
            ],
            ["consultation_id", "respondent_key"],
        )
        # Those just created, and any a concurrent recording created first (built upon).
        responses.update(await _responses_of(connection, {whom[i] for i in missing}))
    current = await _answers_of_revisions(
        connection,
        sorted(
            {r.current_revision_id for r in responses.values() if r.current_revision_id is not None}
        ),
    )

    results: list[RecordResult] = []
    update_of: dict[int, dict[str, Any]] = {}  # by submission index
    networks: list[dict[str, Any]] = []
    revisions: list[dict[str, Any]] = []
    revision_of: list[int] = []  # the submission (and result) index of each revision written
    for i, submission in enumerate(submissions):
        response = responses.get(whom[i])
        assert response is not None  # a repeated delivery was recorded with its response
        if repeated[i]:
            results.append(RecordResult(response.id, response.revision_count, changed=False))
            continue
        consultation = submission.consultation
        anonymous = consultation.consultation.anonymous
        answers = {k: a.normalised() for k, a in submission.answers.items()}
        keys_by_id = {q.id: q.key for q in consultation.questions}
        previous = {
            keys_by_id[qid]: answer
            for qid, answer in current.get(response.current_revision_id or 0, {}).items()
            if qid in keys_by_id
        }
        submitted_at = submission.submitted_at or now
        consent = submission.quote_consent if submission.quote_consent in QUOTE_CONSENTS else "no"
        update = {
            "b_id": response.id,
            "user_id": None if anonymous else submission.user_id,
            "display_name": None if anonymous else submission.display_name,
            "organisation": None if anonymous else submission.organisation,
            "region_id": submission.region_id or response.region_id,
            "quote_consent": "anonymous" if anonymous and consent == "named" else consent,
            "revision_count": response.revision_count,
            "current_revision_id": response.current_revision_id,
            "updated_at": response.updated_at,
        }
        update_of[i] = update
        networks.extend(
            {"response_id": response.id, "network_id": n} for n in sorted(set(submission.networks))
        )
        if previous == answers and response.revision_count > 0:
            results.append(RecordResult(response.id, response.revision_count, changed=False))
            continue
        number = response.revision_count + 1
        update["revision_count"] = number
        # Recorded out of order (a retried older submission) is kept in the history, but the
        # member's newer answers stay current.
        in_order = response.current_revision_id is None or submitted_at >= response.updated_at
        if in_order:
            update["updated_at"] = submitted_at
        revisions.append(
            {
                "response_id": response.id,
                "number": number,
                "created_at": submitted_at,
                "source": submission.source,
            }
        )
        revision_of.append(len(results))
        results.append(RecordResult(response.id, number, changed=in_order))

    await insert_many_returning(session, ResponseNetwork, networks, ["response_id", "network_id"])
    revision_ids = await _insert_returning_ids(connection, ResponseRevision, revisions)
    answer_rows: list[dict[str, Any]] = []
    ticked: list[tuple[tuple[str, str | None], ...]] = []
    for n, revision_id in zip(revision_of, revision_ids, strict=True):
        submission = submissions[n]
        by_key = {q.key: q for q in submission.consultation.questions}
        for question_key, answer in submission.answers.items():
            answer = answer.normalised()
            question = by_key[question_key]
            answer_rows.append(
                {
                    "revision_id": revision_id,
                    "question_id": question.id,
                    "choice": answer.choice
                    if question.kind in ("stance", "single_choice")
                    else None,
                    "comment": answer.comment if question.comment != "none" else None,
                }
            )
            if question.kind == "multi_choice":
                ticked.append(tuple((value, None) for value in answer.choices))
            elif question.kind == "matrix":
                ticked.append(tuple(answer.rows))  # (row, the option chosen for it)
            else:
                ticked.append(())
        if results[n].changed:
            update_of[n]["current_revision_id"] = revision_id
    answer_ids = await _insert_returning_ids(connection, Answer, answer_rows)
    selections = [
        {"answer_id": answer_id, "value": value, "choice": choice}
        for answer_id, values in zip(answer_ids, ticked, strict=True)
        for value, choice in values
    ]
    if selections:
        await connection.execute(insert(AnswerSelection), selections)
    if update_of:
        await connection.execute(
            sa_update(_RESPONSES).where(_RESPONSES.c.id == bindparam("b_id")),
            list(update_of.values()),
        )
    return results


async def _insert_returning_ids(
    connection: AsyncConnection, model: type[Any], rows: list[dict[str, Any]]
) -> list[int]:
    """INSERT `rows` and return their new ids, in the order of `rows`."""
    ids: list[int] = []
    for start in range(0, len(rows), 500):
        result = await connection.execute(
            insert(model).returning(model.id, sort_by_parameter_order=True),
            rows[start : start + 500],
        )
        ids.extend(row[0] for row in result.all())
    return ids
