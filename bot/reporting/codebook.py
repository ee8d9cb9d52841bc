"""The theme codebook of each question, kept in the database (docs/contracts.md, Export JSON).

A codebook holds a question's themes (a short id such as "t3", a label, a one-sentence
description, whether staff edited it) and the coding of every comment: each respondent's current
answer to the question is coded to zero, one or several themes. Counts are never stored: they
are the respondents coded to a theme within whatever scope is being reported, so the summary, the
draft and every export count from this one source.

The codebook is built the first time something needs it and rebuilt when the answers it was
built from have changed (a fingerprint of the current answers with comments). A rebuild keeps
staff edits: a theme the engine finds again keeps its id (matched by the engine's key, else by
who raised it), a renamed theme keeps its name, a merged theme's comments still go to the theme
it was merged into, and a dropped theme's comments stay in "other points". Every edit is
audit-logged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.consultations.catalogue import ConsultationView, QuestionView, get_consultation
from bot.core.audit import record
from bot.core.vocabulary import STANCE_GROUPS
from bot.reporting.aggregation import (
    Aggregate,
    CommentRecord,
    ThemeSummary,
    iter_comments,
    question_view,
    quote_text,
)
from bot.reporting.scope import Filters
from bot.reporting.theme_engine import STANCE_GROUPS as ENGINE_STANCES
from bot.reporting.theme_engine import Coding, CommentInput, code_comments, describe
from storage.db import Database
from storage.models import (
    Answer,
    CodebookTheme,
    Response,
    ThemeCodebook,
    ThemeCoding,
    utcnow,
)

if TYPE_CHECKING:
    from bot.reporting.llm_coding import LlmEndpoint

log = logging.getLogger(__name__)

MAX_THEMES = 12
MAX_LABEL_CHARS = 120
# A rebuilt theme is "the same theme" as a stored one when most of its respondents are shared.
SAME_THEME_OVERLAP = 0.5
ACTIVE, MERGED, DROPPED = "active", "merged", "dropped"


class CodebookError(Exception):
    """A user error (unknown question or theme, empty label…); the message is for the user."""


@dataclass(frozen=True)
class QuoteRef:
    text: str  # a verbatim part of the respondent's comment
    respondent_key: str


@dataclass(frozen=True)
class ThemeEntry:
    """One theme as stored, with every respondent coded to it (merges applied)."""

    id: str
    label: str
    description: str
    edited: bool
    respondent_keys: frozenset[str]
    quotes: tuple[QuoteRef, ...]

    @property
    def count(self) -> int:
        return len(self.respondent_keys)


@dataclass(frozen=True)
class Codebook:
    consultation_id: str
    question_key: str
    engine: str
    built_at: datetime
    themes: tuple[ThemeEntry, ...]  # active themes, most raised first
    coded: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # respondent -> ids
    # Staff decisions that are not themes of their own: merged and dropped ids.
    merged: Mapping[str, str] = field(default_factory=dict)
    dropped: frozenset[str] = frozenset()

    def theme(self, theme_id: str) -> ThemeEntry | None:
        return next((t for t in self.themes if t.id == theme_id), None)

    def labels_of(self, respondent_key: str) -> list[str]:
        labels = {t.id: t.label for t in self.themes}
        return [labels[i] for i in self.coded.get(respondent_key, ()) if i in labels]


# --- reading ---------------------------------------------------------------------------------


def _question(consultation: ConsultationView, key: str) -> QuestionView:
    for question in consultation.questions:
        if question.key == key:
            return question
    keys = ", ".join(q.key for q in consultation.questions)
    raise CodebookError(f"'{consultation.id}' has no question '{key}' (its questions: {keys}).")


def has_comments(question: QuestionView) -> bool:
    return question.kind == "free_text" or question.comment != "none"


async def answers_fingerprint(db: Database, consultation_id: str, question: QuestionView) -> str:
    """Changes whenever a comment on the question is added, edited or its consent changes:
    every submission writes new answer rows, so their count, sum and largest id move."""
    async with db.engine.connect() as conn:
        count, total, largest, unquotable = (
            await conn.execute(
                select(
                    func.count(Answer.id),
                    func.coalesce(func.sum(Answer.id), 0),
                    func.coalesce(func.max(Answer.id), 0),
                    func.count(case((Response.quote_consent == "no", 1))),
                )
                .select_from(
                    Response.__table__.join(  # type: ignore[attr-defined]
                        Answer.__table__,  # type: ignore[attr-defined]
                        Answer.revision_id == Response.current_revision_id,
                    )
                )
                .where(
                    Response.consultation_id == consultation_id,  # type: ignore[arg-type]
                    Answer.question_id == question.id,  # type: ignore[arg-type]
                    and_(Answer.comment.is_not(None), Answer.comment != ""),  # type: ignore[union-attr]
                )
            )
        ).one()
    return f"{count}:{total}:{largest}:{unquotable}"


def _resolve(
    theme_id: str, status: Mapping[str, str], merged_into: Mapping[str, str]
) -> str | None:
    """The active theme a stored theme id now counts towards (None when dropped)."""
    seen: set[str] = set()
    while theme_id not in seen:
        seen.add(theme_id)
        state = status.get(theme_id)
        if state == ACTIVE:
            return theme_id
        if state == MERGED and theme_id in merged_into:
            theme_id = merged_into[theme_id]
            continue
        return None
    return None


async def _stored_codebook(
    session: AsyncSession, consultation_id: str, question_key: str
) -> ThemeCodebook | None:
    return (
        await session.exec(
            select(ThemeCodebook).where(
                ThemeCodebook.consultation_id == consultation_id,
                ThemeCodebook.question_key == question_key,
            )
        )
    ).first()


async def load_codebook(
    db: Database, consultation_id: str, question_key: str
) -> tuple[Codebook, str] | None:
    """The stored codebook and the fingerprint it was built from, or None when there is none."""
    async with db.session() as session:
        book = await _stored_codebook(session, consultation_id, question_key)
        if book is None:
            return None
        rows = list(
            (
                await session.exec(
                    select(CodebookTheme)
                    .where(CodebookTheme.codebook_id == book.id)
                    .order_by(CodebookTheme.position, CodebookTheme.id)  # type: ignore[arg-type]
                )
            ).all()
        )
        codings = (
            await session.exec(
                select(ThemeCoding.respondent_key, ThemeCoding.theme_id).where(
                    ThemeCoding.codebook_id == book.id
                )
            )
        ).all()
    status = {r.theme_id: r.status for r in rows}
    merged_into = {r.theme_id: r.merged_into for r in rows if r.merged_into}
    members: dict[str, set[str]] = {r.theme_id: set() for r in rows if r.status == ACTIVE}
    coded: dict[str, set[str]] = {}
    for respondent, theme_id in codings:
        target = _resolve(theme_id, status, merged_into)
        coded.setdefault(respondent, set())
        if target is not None:
            members[target].add(respondent)
            coded[respondent].add(target)
    quotes: dict[str, list[QuoteRef]] = {tid: [] for tid in members}
    for row in rows:  # a theme's own quotes first, then those of themes merged into it
        target = _resolve(row.theme_id, status, merged_into)
        if target is not None:
            quotes[target].extend(
                QuoteRef(str(q.get("text", "")), str(q.get("respondent_key", "")))
                for q in row.quotes
                if q.get("text")
            )
    order = {r.theme_id: i for i, r in enumerate(rows)}
    themes = tuple(
        ThemeEntry(
            id=r.theme_id,
            label=r.label,
            description=r.description,
            edited=r.edited,
            respondent_keys=frozenset(members[r.theme_id]),
            quotes=tuple(quotes[r.theme_id]),
        )
        for r in sorted(
            (r for r in rows if r.status == ACTIVE and members[r.theme_id]),
            key=lambda r: (-len(members[r.theme_id]), order[r.theme_id]),
        )
    )
    rank = {t.id: i for i, t in enumerate(themes)}
    codebook = Codebook(
        consultation_id=consultation_id,
        question_key=question_key,
        engine=book.engine,
        built_at=book.built_at,
        themes=themes,
        coded={
            k: tuple(sorted((i for i in v if i in rank), key=rank.__getitem__))
            for k, v in coded.items()
        },
        merged={k: v for k, v in merged_into.items() if status.get(k) == MERGED},
        dropped=frozenset(k for k, v in status.items() if v == DROPPED),
    )
    return codebook, book.answers_fingerprint


# --- building --------------------------------------------------------------------------------

_building: dict[tuple[int, str, str], asyncio.Lock] = {}


async def ensure_codebook(
    db: Database,
    consultation: ConsultationView,
    question_key: str,
    *,
    llm: LlmEndpoint | None = None,
    refresh: bool = False,
    seed: int = 0,
) -> Codebook:
    """The question's codebook, built or rebuilt first when it is missing or out of date."""
    question = _question(consultation, question_key)
    lock = _building.setdefault((id(db), consultation.id, question_key), asyncio.Lock())
    async with lock:  # one build at a time per question in this process
        fingerprint = await answers_fingerprint(db, consultation.id, question)
        stored = await load_codebook(db, consultation.id, question_key)
        if stored is not None and stored[1] == fingerprint and not refresh:
            return stored[0]
        records: list[CommentRecord] = []
        async for batch in iter_comments(db, consultation, question, Filters()):
            records.extend(batch)
        inputs = [_engine_input(r, question) for r in records]
        coding, engine = await _code(inputs, llm, seed)
        revisions = await _current_revisions(db, consultation.id)
        try:
            await _store(db, consultation.id, question_key, fingerprint, coding, engine, revisions)
        except IntegrityError:  # another process built it at the same moment: use theirs
            log.info(
                "codebook for %s/%s was built elsewhere meanwhile", consultation.id, question_key
            )
        loaded = await load_codebook(db, consultation.id, question_key)
        assert loaded is not None
        return loaded[0]


def _engine_input(record: CommentRecord, question: QuestionView) -> CommentInput:
    stance = (
        record.choice if question.kind == "stance" and record.choice in ENGINE_STANCES else None
    )
    return CommentInput(
        respondent_key=record.respondent_key,
        text=record.text,
        stance=stance,
        quotable=record.quote_consent in ("named", "anonymous"),
    )


async def _code(
    inputs: Sequence[CommentInput], llm: LlmEndpoint | None, seed: int
) -> tuple[Coding, str]:
    """Code with the model when one is configured and its reply passes every check; offline
    otherwise (the reason is logged)."""
    if llm is not None and inputs:
        from bot.reporting.llm_coding import LlmCodingError, code_with_llm

        try:
            return await code_with_llm(llm, inputs, max_themes=MAX_THEMES), "llm"
        except LlmCodingError as exc:
            log.warning("LLM theme coding not used, coding offline instead: %s", exc)
    coding = await asyncio.to_thread(code_comments, inputs, max_themes=MAX_THEMES, seed=seed)
    return coding, "offline"


async def _current_revisions(db: Database, consultation_id: str) -> dict[str, int | None]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            select(Response.respondent_key, Response.current_revision_id).where(
                Response.consultation_id == consultation_id  # type: ignore[arg-type]
            )
        )
        return {key: revision for key, revision in rows}


def _match(
    coding: Coding, stored: Sequence[CodebookTheme], stored_members: Mapping[str, set[str]]
) -> dict[str, str]:
    """Engine key -> stored theme id, for the themes found again."""
    matched: dict[str, str] = {}
    used: set[str] = set()
    by_key = {row.engine_key: row.theme_id for row in stored if row.engine_key}
    for theme in coding.themes:
        if theme.key in by_key:
            matched[theme.key] = by_key[theme.key]
            used.add(by_key[theme.key])
    # Compared over the respondents coded last time, so newcomers do not dilute the overlap.
    before = set().union(*stored_members.values()) if stored_members else set()
    pairs: list[tuple[float, str, str]] = []
    for theme in coding.themes:
        if theme.key in matched:
            continue
        new = set(theme.respondent_keys) & before
        for row in stored:
            old = stored_members.get(row.theme_id, set())
            if row.theme_id in used or not old or not new:
                continue
            overlap = len(new & old) / len(new | old)
            if overlap >= SAME_THEME_OVERLAP:
                pairs.append((overlap, theme.key, row.theme_id))
    for _, key, theme_id in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if key not in matched and theme_id not in used:
            matched[key] = theme_id
            used.add(theme_id)
    return matched


async def _store(
    db: Database,
    consultation_id: str,
    question_key: str,
    fingerprint: str,
    coding: Coding,
    engine: str,
    revisions: Mapping[str, int | None],
) -> None:
    async with db.session() as session:
        book = await _stored_codebook(session, consultation_id, question_key)
        if book is None:
            book = ThemeCodebook(
                consultation_id=consultation_id,
                question_key=question_key,
                answers_fingerprint=fingerprint,
            )
            session.add(book)
            await session.flush()
        assert book.id is not None
        stored = list(
            (
                await session.exec(
                    select(CodebookTheme).where(CodebookTheme.codebook_id == book.id)
                )
            ).all()
        )
        stored_members: dict[str, set[str]] = {}
        for respondent, theme_id in await session.exec(
            select(ThemeCoding.respondent_key, ThemeCoding.theme_id).where(
                ThemeCoding.codebook_id == book.id
            )
        ):
            stored_members.setdefault(theme_id, set()).add(respondent)
        matched = _match(coding, stored, stored_members)
        rows = {row.theme_id: row for row in stored}
        ids: dict[str, str] = {}
        for position, theme in enumerate(coding.themes):
            quotes = [
                {"text": text, "respondent_key": key}
                for text, key in zip(theme.quotes, theme.quote_keys, strict=False)
            ]
            theme_id = matched.get(theme.key)
            if theme_id is None:
                theme_id = f"t{book.next_number}"
                book.next_number += 1
                row = CodebookTheme(codebook_id=book.id, theme_id=theme_id, label=theme.label)
                rows[theme_id] = row
            row = rows[theme_id]
            row.engine_key = theme.key
            row.position = position
            row.quotes = quotes
            row.updated_at = utcnow()
            if not row.edited:  # staff wording is never overwritten
                row.label = theme.label[:200]
                row.description = theme.description
            session.add(row)
            ids[theme.key] = theme_id
        # Themes not found again go, unless they carry a staff decision (a rename, a merge, a
        # drop): those stay so the decision applies if the theme comes back.
        for theme_id, row in rows.items():
            if theme_id not in ids.values() and not row.edited and row.status == ACTIVE:
                await session.delete(row)
        await session.exec(delete(ThemeCoding).where(ThemeCoding.codebook_id == book.id))  # type: ignore[call-overload]
        for respondent, keys in coding.assignments.items():
            for key in dict.fromkeys(keys):
                if key in ids:
                    session.add(
                        ThemeCoding(
                            codebook_id=book.id,
                            respondent_key=respondent,
                            theme_id=ids[key],
                            revision_id=revisions.get(respondent),
                        )
                    )
        book.answers_fingerprint = fingerprint
        book.engine = engine
        book.built_at = utcnow()
        session.add(book)


# --- staff edits -----------------------------------------------------------------------------


async def _edit_rows(
    session: AsyncSession, consultation_id: str, question_key: str
) -> tuple[ThemeCodebook, dict[str, CodebookTheme]]:
    book = await _stored_codebook(session, consultation_id, question_key)
    if book is None:
        raise CodebookError(f"Question '{question_key}' has no themes yet.")
    rows = (
        await session.exec(select(CodebookTheme).where(CodebookTheme.codebook_id == book.id))
    ).all()
    return book, {row.theme_id: row for row in rows}


def _active(rows: Mapping[str, CodebookTheme], theme_id: str) -> CodebookTheme:
    row = rows.get(theme_id)
    if row is None or row.status != ACTIVE:
        raise CodebookError(f"There is no theme '{theme_id}' to change.")
    return row


_QUOTED_WORDS = re.compile(r"“([^”]+)”")


def _redescribe(description: str, label: str) -> str:
    """The description with the new label as its subject, keeping the members' words it quotes."""
    return describe(label, _QUOTED_WORDS.findall(description))


async def rename_theme(
    db: Database, consultation_id: str, question_key: str, theme_id: str, label: str, actor: str
) -> None:
    label = " ".join(label.split())
    if not label:
        raise CodebookError("A theme needs a name.")
    if len(label) > MAX_LABEL_CHARS:
        raise CodebookError(f"Keep the name under {MAX_LABEL_CHARS} characters.")
    async with db.session() as session:
        _book, rows = await _edit_rows(session, consultation_id, question_key)
        row = _active(rows, theme_id)
        clash = [
            r.theme_id
            for r in rows.values()
            if r.status == ACTIVE and r.theme_id != theme_id and r.label.lower() == label.lower()
        ]
        if clash:
            raise CodebookError(
                f"Theme {clash[0]} is already called “{label}”: merge them instead."
            )
        before = row.label
        row.label, row.edited, row.updated_at = label, True, utcnow()
        row.description = _redescribe(row.description, label)
        session.add(row)
        record(
            session,
            actor,
            "themes.rename",
            consultation_id,
            **{"question": question_key, "theme": theme_id, "from": before, "to": label},
        )


async def merge_themes(
    db: Database, consultation_id: str, question_key: str, keep: str, absorb: str, actor: str
) -> None:
    """`absorb`'s comments count towards `keep` from now on, through every rebuild."""
    if keep == absorb:
        raise CodebookError("Choose two different themes to merge.")
    async with db.session() as session:
        _book, rows = await _edit_rows(session, consultation_id, question_key)
        kept, gone = _active(rows, keep), _active(rows, absorb)
        gone.status, gone.merged_into, gone.edited, gone.updated_at = MERGED, keep, True, utcnow()
        kept.edited, kept.updated_at = True, utcnow()
        session.add_all([kept, gone])
        record(
            session,
            actor,
            "themes.merge",
            consultation_id,
            question=question_key,
            into=keep,
            merged=absorb,
            labels=[kept.label, gone.label],
        )


async def drop_theme(
    db: Database, consultation_id: str, question_key: str, theme_id: str, actor: str
) -> None:
    """The theme goes; its comments count in "other points" unless coded to another theme."""
    async with db.session() as session:
        _book, rows = await _edit_rows(session, consultation_id, question_key)
        row = _active(rows, theme_id)
        row.status, row.edited, row.updated_at = DROPPED, True, utcnow()
        session.add(row)
        record(
            session,
            actor,
            "themes.drop",
            consultation_id,
            question=question_key,
            theme=theme_id,
            label=row.label,
        )


# --- what outputs show -----------------------------------------------------------------------


async def respondent_references(
    db: Database, consultation_id: str, anonymous: bool
) -> dict[str, str]:
    """Each respondent's reference as the CSV's `respondent` column gives it: "R0004" (by order of
    response, over the whole consultation) when anonymous, else the Slack user id."""
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(Response.respondent_key, Response.user_id)
                .where(Response.consultation_id == consultation_id)  # type: ignore[arg-type]
                .order_by(Response.id)
            )
        ).all()
    return {
        key: reference(number, user_id, key, anonymous)
        for number, (key, user_id) in enumerate(rows, start=1)
    }


def reference(number: int, user_id: str | None, respondent_key: str, anonymous: bool) -> str:
    if anonymous:
        return f"R{number:04d}"
    return user_id or respondent_key.removeprefix("import:")


def stance_mix(keys: Iterable[str], choices: Mapping[str, str | None]) -> dict[str, int]:
    """Respondents by stance group (the keys of the export's grouped counts)."""
    group_of = {value: group for group, values in STANCE_GROUPS.items() for value in values}
    mix = dict.fromkeys(STANCE_GROUPS, 0)
    for key in keys:
        group = group_of.get(choices.get(key) or "")
        if group is not None:
            mix[group] += 1
    return mix


def scoped_themes(
    codebook: Codebook,
    records: Sequence[CommentRecord],
    *,
    anonymous: bool,
    stance_question: bool,
    references: Mapping[str, str],
    limit: int | None = None,
    max_quotes: int = 3,
) -> list[ThemeSummary]:
    """The codebook's themes as raised by the respondents in `records` (one scope's comments),
    most raised first; quotes only from in-scope members who allowed quoting, verbatim."""
    by_key = {r.respondent_key: r for r in records}
    choices = {r.respondent_key: r.choice for r in records}
    out: list[ThemeSummary] = []
    for theme in codebook.themes:
        keys = sorted(theme.respondent_keys & by_key.keys(), key=lambda k: references.get(k, k))
        if not keys:
            continue
        quotes: list[str] = []
        seen: set[str] = set()
        for quote in theme.quotes:
            record = by_key.get(quote.respondent_key)
            if (
                record is None
                or record.quote_consent not in ("named", "anonymous")
                or quote.text not in record.text
                or quote.respondent_key in seen
            ):
                continue
            seen.add(quote.respondent_key)
            quotes.append(
                quote_text(
                    quote.text,
                    record.attribution,
                    quotable=record.quote_consent,
                    anonymous=anonymous,
                )
            )
            if len(quotes) == max_quotes:
                break
        out.append(
            ThemeSummary(
                id=theme.id,
                label=theme.label,
                description=theme.description,
                count=len(keys),
                stance=stance_mix(keys, choices) if stance_question else None,
                quotes=quotes,
                respondents=[references.get(k, k) for k in keys],
                edited=theme.edited,
            )
        )
    out.sort(key=lambda t: -t.count)  # stable: ties keep the codebook's order
    return out[:limit] if limit is not None else out


async def codebooks_for(
    db: Database,
    consultation_id: str,
    question_key: str | None = None,
    *,
    llm: LlmEndpoint | None = None,
    refresh: bool = False,
) -> list[tuple[QuestionView, Codebook]]:
    """Every commented question's codebook (or one question's), up to date."""
    consultation = await get_consultation(db, consultation_id)
    questions = (
        [_question(consultation, question_key)]
        if question_key is not None
        else [q for q in consultation.questions if has_comments(q)]
    )
    out = []
    for question in questions:
        codebook = await ensure_codebook(db, consultation, question.key, llm=llm, refresh=refresh)
        out.append((question, codebook))
    return out


# --- review (Slack modal and terminal) -------------------------------------------------------


@dataclass(frozen=True)
class Review:
    """What staff review for one question: its themes over every respondent, with quotes."""

    consultation_id: str
    title: str
    question: QuestionView
    questions: tuple[QuestionView, ...]  # the questions that have comments, to switch between
    engine: str
    themes: tuple[ThemeSummary, ...]
    other_points: int  # respondents whose comment fits no theme
    comments: int


async def review(
    db: Database,
    consultation_id: str,
    question_key: str | None = None,
    *,
    llm: LlmEndpoint | None = None,
    refresh: bool = False,
) -> Review:
    """The codebook of one question (the first with comments when none is named), up to date."""
    consultation = await get_consultation(db, consultation_id)
    commented = tuple(q for q in consultation.questions if has_comments(q))
    if question_key is not None:
        question = _question(consultation, question_key)
    elif commented:
        question = commented[0]
    else:
        raise CodebookError(f"'{consultation_id}' asks for no comments, so it has no themes.")
    codebook = await ensure_codebook(db, consultation, question.key, llm=llm, refresh=refresh)
    records: list[CommentRecord] = []
    async for batch in iter_comments(db, consultation, question, Filters()):
        records.extend(batch)
    anonymous = consultation.consultation.anonymous
    themes = scoped_themes(
        codebook,
        records,
        anonymous=anonymous,
        stance_question=question.kind == "stance",
        references=await respondent_references(db, consultation_id, anonymous),
    )
    coded = {k for t in codebook.themes for k in t.respondent_keys}
    return Review(
        consultation_id=consultation_id,
        title=consultation.consultation.title,
        question=question,
        questions=commented,
        engine=codebook.engine,
        themes=tuple(themes),
        other_points=sum(1 for r in records if r.respondent_key not in coded),
        comments=len(records),
    )


EDITS = ("rename", "merge", "drop")


async def apply_edit(
    db: Database,
    consultation_id: str,
    question_key: str,
    *,
    edit: str,
    theme_id: str | None,
    other_id: str | None,
    label: str | None,
    actor: str,
) -> str:
    """One staff edit from the review form; returns what was done, in a sentence.
    Raises CodebookError (naming the field at fault: `CodebookError.field`) when it cannot."""
    if edit not in EDITS:
        raise FieldError("edit", "Choose rename, merge or drop.")
    if not theme_id:
        raise FieldError("theme", "Choose the theme to change.")
    try:
        if edit == "rename":
            if not label or not label.strip():
                raise FieldError("label", "Type the new name.")
            await rename_theme(db, consultation_id, question_key, theme_id, label, actor)
            return f"Renamed {theme_id} to “{' '.join(label.split())}”."
        if edit == "merge":
            if not other_id:
                raise FieldError("other", "Choose the theme to merge it into.")
            await merge_themes(db, consultation_id, question_key, other_id, theme_id, actor)
            return f"Merged {theme_id} into {other_id}."
        await drop_theme(db, consultation_id, question_key, theme_id, actor)
        return f"Dropped {theme_id}: its comments are now among the other points."
    except FieldError:
        raise
    except CodebookError as exc:
        field_name = "label" if edit == "rename" and "no theme" not in str(exc) else "theme"
        raise FieldError(field_name, str(exc)) from None


class FieldError(CodebookError):
    """A CodebookError about one field of the review form."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def stance_phrase(theme: ThemeSummary) -> str:
    """ "raised by 9 respondents (7 supportive, 2 opposed)"."""
    people = "1 respondent" if theme.count == 1 else f"{theme.count} respondents"
    parts = []
    if theme.stance:
        names = {"supportive": "supportive", "undecided": "undecided", "disagree": "opposed"}
        parts = [f"{n} {names[k]}" for k, n in theme.stance.items() if n and k in names]
    return f"raised by {people}" + (f" ({', '.join(parts)})" if parts else "")


# --- the aggregate's themes -------------------------------------------------------------------


async def add_themes(
    db: Database,
    result: Aggregate,
    *,
    consultation: ConsultationView | None = None,
    comments: Mapping[str, Sequence[CommentRecord]] | None = None,
    max_themes: int | None = None,
    seed: int = 0,
    llm: LlmEndpoint | None = None,
) -> Aggregate:
    """Fill each question's `themes` from its codebook (bot.reporting.codebook), counted over the
    respondents in the aggregate's scope; at most `max_themes` per question when given.

    `comments` (by question key, in scope) saves reading them again when the caller has them.
    """
    if result.withheld:  # a scope below the minimum group size shows counts only
        return result
    consultation = consultation or await get_consultation(db, result.consultation.id)
    anonymous = consultation.consultation.anonymous
    filters = result.filters
    references = await respondent_references(db, consultation.id, anonymous)
    for q in result.questions:
        if q.comments == 0:
            q.themes = []
            continue
        codebook = await ensure_codebook(db, consultation, q.id, llm=llm, seed=seed)
        if comments is not None and q.id in comments:
            records = list(comments[q.id])
        else:
            records = []
            async for batch in iter_comments(
                db, consultation, question_view(consultation, q.id), filters
            ):
                records.extend(batch)
        q.themes = scoped_themes(
            codebook,
            records,
            anonymous=anonymous,
            stance_question=q.kind == "stance",
            references=references,
            limit=max_themes,
        )
    result.themes_included = True
    return result
