"""Consultations: adding them from files, listing and reading them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from sqlalchemy import func
from sqlmodel import col, select

from bot.consultations.files import ConsultationFile
from bot.core.audit import record
from storage.db import Database
from storage.models import (
    Consultation,
    FaqEntry,
    Network,
    Question,
    QuestionOption,
    Response,
    utcnow,
)


class ConsultationError(Exception):
    """A user error about a consultation (unknown id, wrong state); the message is for the user."""


@dataclass(frozen=True)
class OptionView:
    value: str
    label: str
    phrase: str | None = None  # as the file gave it for running prose; None: from the label


@dataclass(frozen=True)
class RowView:
    """One row of a matrix question (e.g. one ask), answered with the question's options."""

    value: str
    text: str


@dataclass(frozen=True)
class QuestionView:
    id: int
    key: str
    text: str
    kind: str
    comment: str
    options: list[OptionView] = field(default_factory=list)
    rows: list[RowView] = field(default_factory=list)

    @property
    def has_choice(self) -> bool:
        return self.kind != "free_text"

    @cached_property
    def option_values(self) -> frozenset[str]:
        """The values a member may choose (checked on every submission: computed once)."""
        return frozenset(o.value for o in self.options)

    def row_text(self, value: str) -> str:
        for row in self.rows:
            if row.value == value:
                return row.text
        return value

    def label_of(self, value: str) -> str:
        for option in self.options:
            if option.value == value:
                return option.label
        return value


@dataclass(frozen=True)
class ConsultationView:
    """A consultation with its questions, detached from the session."""

    consultation: Consultation
    questions: list[QuestionView]

    @property
    def id(self) -> str:
        return self.consultation.id


async def add_consultation(
    db: Database, spec: ConsultationFile, *, default_timezone: str, actor: str | None = None
) -> Consultation:
    """Store a parsed consultation file. Unknown networks and duplicate ids are refused."""
    async with db.session() as session:
        if await session.get(Consultation, spec.id) is not None:
            raise ConsultationError(f"A consultation with id '{spec.id}' already exists.")
        if spec.networks:
            known = set((await session.exec(select(Network.id))).all())
            unknown = [n for n in spec.networks if n not in known]
            if unknown:
                raise ConsultationError(
                    "networks: unknown network(s) "
                    + ", ".join(f"'{n}'" for n in unknown)
                    + (
                        f" (the directory has: {', '.join(sorted(known))})"
                        if known
                        else " (load the directory first: consultbot directory load FILE)"
                    )
                )
        consultation = Consultation(
            id=spec.id,
            title=spec.title,
            summary=spec.summary,
            source_url=spec.source_url,
            deadline=spec.deadline_utc(default_timezone),
            timezone=spec.timezone or default_timezone,
            anonymous=spec.anonymous,
            networks=list(spec.networks) if spec.networks else None,
            reminders=list(spec.reminders),
            launch_at=spec.launch_utc(default_timezone),
            launch_scheduled_by=actor if spec.launch_at is not None else None,
            escalate_below=spec.escalate_below,
        )
        session.add(consultation)
        await session.flush()
        session.add_all(
            FaqEntry(consultation_id=spec.id, position=i, question=item.q, answer=item.a)
            for i, item in enumerate(spec.faq)
        )
        for position, q in enumerate(spec.questions):
            question = Question(
                consultation_id=spec.id,
                key=q.id,
                position=position,
                text=q.text,
                kind=q.kind,
                comment=q.comment,
                rows=[{"value": r.value, "text": r.text} for r in q.rows] if q.rows else None,
            )
            session.add(question)
            await session.flush()
            phrases = {o.value: o.phrase for o in q.options}
            session.add_all(
                QuestionOption(
                    question_id=question.id,
                    value=v,
                    label=label,
                    position=i,
                    phrase=phrases.get(v),
                )
                for i, (v, label) in enumerate(q.choices)
            )
        record(session, actor, "consultation.add", spec.id)
    return consultation


async def get_consultation(db: Database, consultation_id: str) -> ConsultationView:
    async with db.session() as session:
        consultation = await session.get(Consultation, consultation_id)
        if consultation is None:
            raise ConsultationError(f"There is no consultation with id '{consultation_id}'.")
        questions = (
            await session.exec(
                select(Question)
                .where(Question.consultation_id == consultation_id)
                .order_by(col(Question.position))
            )
        ).all()
        options = (
            await session.exec(
                select(QuestionOption)
                .where(col(QuestionOption.question_id).in_([q.id for q in questions]))
                .order_by(col(QuestionOption.position))
            )
        ).all()
    by_question: dict[int, list[OptionView]] = {}
    for option in options:
        by_question.setdefault(option.question_id, []).append(
            OptionView(option.value, option.label, option.phrase)
        )
    return ConsultationView(
        consultation=consultation,
        questions=[
            QuestionView(
                id=q.id or 0,
                key=q.key,
                text=q.text,
                kind=q.kind,
                comment=q.comment,
                options=by_question.get(q.id or 0, []),
                rows=[RowView(r["value"], r["text"]) for r in (q.rows or [])],
            )
            for q in questions
        ],
    )


@dataclass(frozen=True)
class ConsultationSummary:
    consultation: Consultation
    question_count: int
    respondents: int


async def list_consultations(
    db: Database, *, statuses: tuple[str, ...] | None = None
) -> list[ConsultationSummary]:
    async with db.session() as session:
        query = select(Consultation).order_by(col(Consultation.deadline))
        if statuses:
            query = query.where(col(Consultation.status).in_(statuses))
        consultations = (await session.exec(query)).all()
        questions = dict(
            (
                await session.exec(
                    select(Question.consultation_id, func.count()).group_by(
                        Question.consultation_id
                    )
                )
            ).all()
        )
        respondents = dict(
            (
                await session.exec(
                    select(Response.consultation_id, func.count()).group_by(
                        Response.consultation_id
                    )
                )
            ).all()
        )
    return [
        ConsultationSummary(c, questions.get(c.id, 0), respondents.get(c.id, 0))
        for c in consultations
    ]


def is_open_for_answers(consultation: Consultation, now: datetime | None = None) -> bool:
    return consultation.status == "open" and (now or utcnow()) < consultation.deadline


async def target_networks(db: Database, consultation: Consultation) -> list[Network]:
    """The networks a consultation is posted to: its own list, or every network."""
    async with db.session() as session:
        query = select(Network).order_by(col(Network.name))
        if consultation.networks:
            query = query.where(col(Network.id).in_(consultation.networks))
        return list((await session.exec(query)).all())


async def respondents_by_network(db: Database, consultation_id: str) -> dict[str, int]:
    from storage.models import ResponseNetwork

    async with db.session() as session:
        rows = (
            await session.exec(
                select(ResponseNetwork.network_id, func.count())
                .join(Response, col(Response.id) == col(ResponseNetwork.response_id))
                .where(Response.consultation_id == consultation_id)
                .group_by(ResponseNetwork.network_id)
            )
        ).all()
    return dict(rows)


async def create_from_form(
    db: Database, data: dict[str, object], *, default_timezone: str, actor: str
) -> Consultation:
    """A consultation defined in Slack's form, held to the same rules as a consultation file."""
    from bot.consultations.files import validate_consultation

    spec = validate_consultation(data, "form")
    return await add_consultation(db, spec, default_timezone=default_timezone, actor=actor)
