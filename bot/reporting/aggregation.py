"""Aggregating a consultation's current answers: counts, percentages, breakdowns, themes.

Every count is computed in SQL with GROUP BY over the current revision of each response
(`responses.current_revision_id -> answers`, and `answer_selections` for multi choice), so the
work stays in the database however many respondents there are. Percentages are of those who
answered the question, rounded half up to one decimal place with integer arithmetic (no float
artefacts like 22.499999).

The result is a typed `Aggregate` that summaries, charts, the draft and the exports all read;
the export JSON (docs/contracts.md, Export JSON) is written from it only at the edge, by
`Aggregate.to_export_json()`. Optional fields (matrix `rows`, a themes codebook's ids,
descriptions and stance mix) are left out of the JSON when absent, so the contract's bytes
stay the same for consultations that do not use them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from itertools import combinations
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import ColumnElement, Select, and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.consultations.catalogue import ConsultationView, QuestionView, get_consultation
from bot.core.timefmt import local
from bot.core.vocabulary import (
    GROUP_KEYS,
    STANCES,
    Group,
    grouped_counts,
    material_gap,
)
from bot.reporting.scope import UNKNOWN_REGION, Filters
from bot.reporting.suppression import suppress_small_groups
from storage.db import Database
from storage.models import (
    Answer,
    AnswerSelection,
    Network,
    Region,
    Response,
    ResponseNetwork,
)

# CONSULTBOT_MIN_GROUP's default: what an output gets when its caller passes no setting.
DEFAULT_MIN_GROUP = 5

COMMENT_BATCH = 2000


def percent(count: int, total: int) -> float:
    """`count` as a percentage of `total`, half up to one decimal place; 0.0 when total is 0."""
    if total <= 0:
        return 0.0
    tenths = (count * 2000 + total) // (2 * total)  # round(count * 1000 / total), half up
    return tenths / 10


# --- the result ------------------------------------------------------------------------------


class ConsultationInfo(BaseModel):
    id: str
    title: str
    deadline: str  # ISO 8601 with offset, in the consultation's time zone
    status: str
    timezone: str = "UTC"
    anonymous: bool = False


class NetworkSummary(BaseModel):
    name: str
    members: int
    respondents: int
    response_rate: float | None = None
    # "slack": channel membership from conversations.members; "respondents": only the members
    # we know of (those who answered), used when Slack was not asked.
    members_source: Literal["slack", "respondents"] = "respondents"
    suppressed: bool = False  # "other": networks below the minimum group size, folded


class RegionSummary(BaseModel):
    name: str
    respondents: int = 0
    suppressed: bool = False  # "other": regions below the minimum group size, folded


class GroupedStance(BaseModel):
    counts: dict[Group, int]
    percentages: dict[Group, float]


class Breakdown(BaseModel):
    """The answers of one network or region to one question (or one matrix row)."""

    answered: int
    counts: dict[str, int]
    percentages: dict[str, float]
    grouped: GroupedStance | None = None
    suppressed: bool = False  # "other": groups below the minimum group size, folded
    #: Matrix questions: this group's counts for each row (by row slug).
    rows: dict[str, Breakdown] | None = None

    def count(self, measure: str) -> int:
        """An option's count, or a stance group's ("supportive", ...) summed from the counts."""
        if measure in GROUP_KEYS:
            return grouped_counts(self.counts)[measure]  # type: ignore[index]
        return int(self.counts.get(measure, 0))


class Difference(BaseModel):
    dimension: Literal["network", "region"]
    higher: str
    lower: str
    higher_pct: float
    lower_pct: float
    gap: float
    higher_answered: int = 0
    lower_answered: int = 0


class ThemeSummary(BaseModel):
    """One codebook theme as raised within the scope reported (bot.reporting.codebook)."""

    id: str = ""
    label: str
    description: str = ""
    count: int  # respondents in scope coded to the theme
    # Those respondents by stance group (stance questions only): supportive/undecided/disagree.
    stance: dict[Group, int] | None = None
    quotes: list[str] = Field(default_factory=list)
    respondents: list[str] = Field(default_factory=list)  # the CSV's `respondent` references
    edited: bool = False


class OptionInfo(BaseModel):
    value: str
    label: str
    phrase: str | None = None  # how it reads in running prose, when the file gives it


class RowAggregate(Breakdown):
    """One row of a matrix question: the same options as every other row, counted on their own."""

    text: str


class QuestionAggregate(BaseModel):
    id: str
    text: str
    kind: str
    options: list[OptionInfo] = Field(default_factory=list)
    answered: int
    counts: dict[str, int] = Field(default_factory=dict)
    percentages: dict[str, float] = Field(default_factory=dict)
    grouped: GroupedStance | None = None
    by_network: dict[str, Breakdown] = Field(default_factory=dict)
    by_region: dict[str, Breakdown] = Field(default_factory=dict)
    differences: list[Difference] = Field(default_factory=list)
    themes: list[ThemeSummary] = Field(default_factory=list)
    comments: int = 0
    #: Matrix questions only: each row's counts, by row slug, in the file's order.
    rows: dict[str, RowAggregate] | None = None

    @model_validator(mode="after")
    def _stance_scale(self) -> QuestionAggregate:
        # A stance question's options are the scale; a caller need not spell them out.
        if self.kind == "stance" and not self.options:
            self.options = [OptionInfo(value=v, label=label) for v, label in STANCES]
        return self

    @property
    def labels(self) -> dict[str, str]:
        return {o.value: o.label for o in self.options}

    def breakdown(
        self,
        scope: Literal["all", "network", "region"],
        group: str | None,
        row: str | None = None,
    ) -> Breakdown:
        """The whole question's answers ("all") or one network's / region's, or a matrix row's
        within them; KeyError if absent."""
        if scope == "all":
            found = Breakdown(
                answered=self.answered,
                counts=self.counts,
                percentages=self.percentages,
                rows=dict(self.rows) if self.rows is not None else None,
            )
        else:
            found = (self.by_network if scope == "network" else self.by_region)[str(group)]
        if row is None:
            return found
        return (found.rows or {})[row]


class Aggregate(BaseModel):
    consultation: ConsultationInfo
    respondents: int
    imported: int = 0
    networks: dict[str, NetworkSummary] = Field(default_factory=dict)
    regions: dict[str, RegionSummary] = Field(default_factory=dict)
    questions: list[QuestionAggregate]
    filters: Filters = Field(default_factory=Filters)
    themes_included: bool = False
    # Anonymous consultations: the minimum group size applied (bot.reporting.suppression), and
    # whether the whole scope was below it (then only `respondents` is given).
    min_group: int | None = None
    withheld: bool = False

    def question(self, key: str) -> QuestionAggregate:
        for question in self.questions:
            if question.id == key:
                return question
        raise KeyError(key)

    def to_export_json(self) -> dict[str, Any]:
        """The export JSON: the contract's keys first, then extra keys for drafting and scripts.

        The one place the aggregate becomes a dict (`bot.reporting.exports.data.export_json`
        writes it)."""

        def breakdown(b: Breakdown) -> dict[str, Any]:
            out: dict[str, Any] = {
                "answered": b.answered,
                "counts": b.counts,
                "percentages": b.percentages,
            }
            if b.grouped is not None:
                out["grouped"] = b.grouped.model_dump()
            if b.rows is not None:
                out["rows"] = {slug: breakdown(row) for slug, row in b.rows.items()}
            if b.suppressed:
                out["suppressed"] = True
            return out

        def group(summary: NetworkSummary | RegionSummary) -> dict[str, Any]:
            out = summary.model_dump(exclude={"suppressed"})
            if summary.suppressed:
                out["suppressed"] = True
            return out

        questions = []
        for q in self.questions:
            item: dict[str, Any] = {
                "id": q.id,
                "text": q.text,
                "kind": q.kind,
                "answered": q.answered,
            }
            if q.rows is not None:
                item["rows"] = {
                    slug: {"text": row.text, **breakdown(row)} for slug, row in q.rows.items()
                }
            else:
                item["counts"] = q.counts
                item["percentages"] = q.percentages
            item.update(
                {
                    "by_network": {k: breakdown(v) for k, v in q.by_network.items()},
                    "by_region": {k: breakdown(v) for k, v in q.by_region.items()},
                    "themes": [t.model_dump(exclude_none=True) for t in q.themes],
                    "comments": q.comments,
                    "options": [o.model_dump(exclude_none=True) for o in q.options],
                    "labels": q.labels,
                }
            )
            if q.grouped is not None:
                item["grouped"] = q.grouped.model_dump()
            if q.kind == "stance":
                item["differences"] = [d.model_dump() for d in q.differences]
            questions.append(item)
        return {
            "consultation": {
                "id": self.consultation.id,
                "title": self.consultation.title,
                "deadline": self.consultation.deadline,
                "status": self.consultation.status,
                "timezone": self.consultation.timezone,
                "anonymous": self.consultation.anonymous,
            },
            "respondents": self.respondents,
            "networks": {k: group(v) for k, v in self.networks.items()},
            "questions": questions,
            "imported": self.imported,
            "regions": {k: group(v) for k, v in self.regions.items()},
            "filters": self.filters.describe(),
            "themes_included": self.themes_included,
            **({"min_group": self.min_group} if self.min_group is not None else {}),
            **({"withheld": True} if self.withheld else {}),
        }


# --- SQL -------------------------------------------------------------------------------------


def scope_clauses(consultation_id: str, filters: Filters) -> list[ColumnElement[bool]]:
    """WHERE clauses selecting the responses counted (with a current revision, in scope)."""
    clauses: list[ColumnElement[bool]] = [
        Response.consultation_id == consultation_id,  # type: ignore[list-item]
        Response.current_revision_id.is_not(None),  # type: ignore[union-attr]
    ]
    if filters.region == UNKNOWN_REGION:
        clauses.append(Response.region_id.is_(None))  # type: ignore[union-attr]
    elif filters.region is not None:
        clauses.append(Response.region_id == filters.region)  # type: ignore[arg-type]
    if filters.regions is not None:
        clauses.append(Response.region_id.in_(sorted(filters.regions)))  # type: ignore[union-attr]
    if filters.network is not None:
        # An alias, so the by-network breakdown's own join is not correlated into it.
        member = ResponseNetwork.__table__.alias("in_network")  # type: ignore[attr-defined]
        clauses.append(
            exists().where(
                member.c.response_id == Response.id,
                member.c.network_id == filters.network,
            )
        )
    return clauses


def _answers_join() -> Any:
    return Response.__table__.join(  # type: ignore[attr-defined]
        Answer.__table__,  # type: ignore[attr-defined]
        Answer.revision_id == Response.current_revision_id,
    )


def _has_comment() -> ColumnElement[bool]:
    return and_(Answer.comment.is_not(None), Answer.comment != "")  # type: ignore[union-attr]


Dimension = Literal["all", "network", "region"]


def _group_key(dimension: Dimension) -> list[Any]:
    if dimension == "network":
        return [ResponseNetwork.network_id]
    if dimension == "region":
        return [Response.region_id]
    return []


def _from(dimension: Dimension) -> Any:
    base = _answers_join()
    if dimension == "network":
        base = base.join(
            ResponseNetwork.__table__,  # type: ignore[attr-defined]
            ResponseNetwork.response_id == Response.id,
        )
    return base


def _choice_counts(
    consultation_id: str, filters: Filters, dimension: Dimension, question_ids: list[int]
) -> Select[Any]:
    """(group, question_id, choice, answers, comments) for stance/single/free-text questions."""
    group = _group_key(dimension)
    return (
        select(
            *group,
            Answer.question_id,
            Answer.choice,
            func.count(),
            func.count(func.nullif(Answer.comment, "")),
        )
        .select_from(_from(dimension))
        .where(*scope_clauses(consultation_id, filters), Answer.question_id.in_(question_ids))  # type: ignore[attr-defined]
        .group_by(*group, Answer.question_id, Answer.choice)
    )


def _selection_counts(
    consultation_id: str, filters: Filters, dimension: Dimension, question_ids: list[int]
) -> Select[Any]:
    """(group, question_id, value, ticks) for multi-choice questions."""
    group = _group_key(dimension)
    return (
        select(*group, Answer.question_id, AnswerSelection.value, func.count())
        .select_from(
            _from(dimension).join(
                AnswerSelection.__table__,  # type: ignore[attr-defined]
                AnswerSelection.answer_id == Answer.id,
            )
        )
        .where(*scope_clauses(consultation_id, filters), Answer.question_id.in_(question_ids))  # type: ignore[attr-defined]
        .group_by(*group, Answer.question_id, AnswerSelection.value)
    )


def _row_counts(
    consultation_id: str, filters: Filters, dimension: Dimension, question_ids: list[int]
) -> Select[Any]:
    """(group, question_id, row, option, answers) for matrix questions."""
    group = _group_key(dimension)
    return (
        select(
            *group, Answer.question_id, AnswerSelection.value, AnswerSelection.choice, func.count()
        )
        .select_from(
            _from(dimension).join(
                AnswerSelection.__table__,  # type: ignore[attr-defined]
                AnswerSelection.answer_id == Answer.id,
            )
        )
        .where(
            *scope_clauses(consultation_id, filters),
            Answer.question_id.in_(question_ids),  # type: ignore[attr-defined]
            AnswerSelection.choice.is_not(None),  # type: ignore[union-attr]
        )
        .group_by(*group, Answer.question_id, AnswerSelection.value, AnswerSelection.choice)
    )


def _multi_answered(
    consultation_id: str, filters: Filters, dimension: Dimension, question_ids: list[int]
) -> Select[Any]:
    """(group, question_id, answers with at least one tick, comments) for multi choice (and
    matrix: answers with at least one row chosen)."""
    group = _group_key(dimension)
    ticked = exists().where(AnswerSelection.answer_id == Answer.id)  # type: ignore[arg-type]
    return (
        select(
            *group,
            Answer.question_id,
            func.count(case((ticked, 1))),
            func.count(func.nullif(Answer.comment, "")),
        )
        .select_from(_from(dimension))
        .where(*scope_clauses(consultation_id, filters), Answer.question_id.in_(question_ids))  # type: ignore[attr-defined]
        .group_by(*group, Answer.question_id)
    )


# --- counting --------------------------------------------------------------------------------


def _options(question: QuestionView) -> list[tuple[str, str]]:
    if question.kind == "stance":
        labels = {o.value: o.label for o in question.options}
        return [(value, labels.get(value, label)) for value, label in STANCES]
    return [(o.value, o.label) for o in question.options]


@dataclass
class _Tally:
    answered: int = 0
    comments: int = 0
    counts: dict[str, int] | None = None
    rows: dict[str, dict[str, int]] | None = None  # matrix: row -> option -> count

    def add_row(self, row: str, value: str, n: int) -> None:
        if self.rows is None:
            self.rows = {}
        counts = self.rows.setdefault(row, {})
        counts[value] = counts.get(value, 0) + n

    def add(self, value: str | None, n: int) -> None:
        if self.counts is None:
            self.counts = {}
        if value is not None:
            self.counts[value] = self.counts.get(value, 0) + n


def breakdown_of(
    kind: str, values: Sequence[str], answered: int, raw: Mapping[str, int]
) -> Breakdown:
    """Counts of `values` (in that order) with their percentages of `answered`; a stance
    question's also grouped (supportive / undecided / disagree)."""
    counts = {v: int(raw.get(v, 0)) for v in values}
    percentages = {v: percent(c, answered) for v, c in counts.items()}
    grouped = None
    if kind == "stance":
        by_group = grouped_counts(counts)
        grouped = GroupedStance(
            counts=by_group,
            percentages={g: percent(c, answered) for g, c in by_group.items()},
        )
    return Breakdown(answered=answered, counts=counts, percentages=percentages, grouped=grouped)


def _breakdown(question: QuestionView, tally: _Tally | None) -> Breakdown:
    tally = tally or _Tally()
    values = [v for v, _ in _options(question)]
    if question.kind == "matrix":
        # Each respondent chooses one option per row: a row's answered is its counts' sum.
        rows = {}
        for row in question.rows:
            counts = (tally.rows or {}).get(row.value, {})
            rows[row.value] = breakdown_of("matrix", values, sum(counts.values()), counts)
        return Breakdown(answered=tally.answered, counts={}, percentages={}, rows=rows)
    return breakdown_of(question.kind, values, tally.answered, tally.counts or {})


def material_differences(
    dimension: Literal["network", "region"], breakdowns: Mapping[str, Breakdown]
) -> list[Difference]:
    """Pairs of groups whose supportive shares differ materially (`bot.core.vocabulary`'s rule),
    largest gap first. Respondents of no known region are not a group to compare."""
    eligible = [(key, b) for key, b in breakdowns.items() if key != UNKNOWN_REGION]
    found: list[tuple[Fraction, Difference]] = []
    for (key_a, a), (key_b, b) in combinations(eligible, 2):
        supportive_a, supportive_b = a.count("supportive"), b.count("supportive")
        gap = material_gap(supportive_a, a.answered, supportive_b, b.answered)
        if gap is None:
            continue
        a_higher = Fraction(supportive_a, a.answered) > Fraction(supportive_b, b.answered)
        (hk, hi), (lk, lo) = ((key_a, a), (key_b, b)) if a_higher else ((key_b, b), (key_a, a))
        found.append(
            (
                gap,
                Difference(
                    dimension=dimension,
                    higher=hk,
                    lower=lk,
                    higher_pct=percent(hi.count("supportive"), hi.answered),
                    lower_pct=percent(lo.count("supportive"), lo.answered),
                    gap=percent(gap.numerator, gap.denominator),
                    higher_answered=hi.answered,
                    lower_answered=lo.answered,
                ),
            )
        )
    found.sort(key=lambda item: (-item[0], item[1].higher, item[1].lower))
    return [d for _, d in found]


async def _tallies(
    conn: AsyncConnection,
    consultation: ConsultationView,
    filters: Filters,
    dimension: Dimension,
) -> dict[tuple[str | None, int], _Tally]:
    """Tallies by (group, question id); group is None for the "all" dimension."""
    tallies: dict[tuple[str | None, int], _Tally] = {}
    grouped = dimension != "all"
    single = [q.id for q in consultation.questions if q.kind not in ("multi_choice", "matrix")]
    multi = [q.id for q in consultation.questions if q.kind == "multi_choice"]
    matrix = [q.id for q in consultation.questions if q.kind == "matrix"]
    kinds = {q.id: q.kind for q in consultation.questions}

    def key(row: Any) -> tuple[str | None, int, tuple[Any, ...]]:
        if grouped:
            return row[0], row[1], tuple(row[2:])
        return None, row[0], tuple(row[1:])

    if single:
        result = await conn.execute(_choice_counts(consultation.id, filters, dimension, single))
        for row in result:
            group, qid, (choice, n, comments) = key(row)
            tally = tallies.setdefault((group, qid), _Tally())
            tally.comments += comments
            if kinds[qid] == "free_text":
                tally.answered += comments
                tally.add(None, 0)
            elif choice is not None:
                tally.answered += n
                tally.add(choice, n)
    if multi:
        result = await conn.execute(_selection_counts(consultation.id, filters, dimension, multi))
        for row in result:
            group, qid, (value, n) = key(row)
            tallies.setdefault((group, qid), _Tally()).add(value, n)
    if matrix:
        result = await conn.execute(_row_counts(consultation.id, filters, dimension, matrix))
        for row in result:
            group, qid, (matrix_row, value, n) = key(row)
            tallies.setdefault((group, qid), _Tally()).add_row(matrix_row, value, n)
    if multi or matrix:
        answered_by = multi + matrix
        result = await conn.execute(
            _multi_answered(consultation.id, filters, dimension, answered_by)
        )
        for row in result:
            group, qid, (answered, comments) = key(row)
            tally = tallies.setdefault((group, qid), _Tally())
            tally.answered += answered
            tally.comments += comments
    return tallies


def _summed(tallies: Mapping[tuple[str | None, int], _Tally]) -> dict[tuple[None, int], _Tally]:
    total: dict[tuple[None, int], _Tally] = {}
    for (_, question_id), tally in tallies.items():
        into = total.setdefault((None, question_id), _Tally())
        into.answered += tally.answered
        into.comments += tally.comments
        for value, n in (tally.counts or {}).items():
            into.add(value, n)
        for matrix_row, counts in (tally.rows or {}).items():
            for value, n in counts.items():
                into.add_row(matrix_row, value, n)
        if into.counts is None:
            into.counts = {}
    return total


async def aggregate(
    db: Database,
    consultation_id: str,
    *,
    filters: Filters | None = None,
    region: str | None = None,
    network: str | None = None,
    regions: frozenset[str] | Iterable[str] | None = None,
    network_members: Mapping[str, int] | None = None,
    min_group: int = DEFAULT_MIN_GROUP,
) -> Aggregate:
    """Counts, percentages and breakdowns of the current answers in scope (docs/contracts.md, Export JSON).

    In an anonymous consultation no group below `min_group` (CONSULTBOT_MIN_GROUP) is shown on
    its own, and a scope below it is withheld (bot.reporting.suppression): applied here, so
    every output made from the aggregate keeps it.

    `network_members` is each network's channel membership (Slack's conversations.members);
    without it a network's members are those of its members we know of (its respondents).
    `filters` is whose answers count (`region`, `network`, `regions` are shorthands for one).
    Raises ConsultationError for an unknown consultation.
    """
    filters = _scope(filters, region, network, regions)
    consultation = await get_consultation(db, consultation_id)
    c = consultation.consultation
    async with db.engine.connect() as conn:
        by_network = await _tallies(conn, consultation, filters, "network")
        by_region = await _tallies(conn, consultation, filters, "region")
        # Every response has exactly one region (NULL included), so the totals are the sums of
        # the regional tallies: one GROUP BY fewer over the answers.
        overall = _summed(by_region)
        scope = scope_clauses(consultation_id, filters)
        respondents, imported = (
            await conn.execute(
                select(
                    func.count(),
                    func.count(case((Response.source == "import", 1))),
                ).where(*scope)
            )
        ).one()
        per_network = dict(
            (
                await conn.execute(
                    select(ResponseNetwork.network_id, func.count(func.distinct(Response.id)))
                    .select_from(
                        Response.__table__.join(  # type: ignore[attr-defined]
                            ResponseNetwork.__table__,  # type: ignore[attr-defined]
                            ResponseNetwork.response_id == Response.id,
                        )
                    )
                    .where(*scope)
                    .group_by(ResponseNetwork.network_id)
                )
            ).all()
        )
        # The members we know of without asking Slack: each network's respondents, unfiltered.
        known_members = dict(
            (
                await conn.execute(
                    select(ResponseNetwork.network_id, func.count(func.distinct(Response.id)))
                    .select_from(
                        Response.__table__.join(  # type: ignore[attr-defined]
                            ResponseNetwork.__table__,  # type: ignore[attr-defined]
                            ResponseNetwork.response_id == Response.id,
                        )
                    )
                    .where(Response.consultation_id == consultation_id)  # type: ignore[arg-type]
                    .group_by(ResponseNetwork.network_id)
                )
            ).all()
        )
        per_region = dict(
            (
                await conn.execute(
                    select(Response.region_id, func.count())
                    .where(*scope)
                    .group_by(Response.region_id)
                )
            ).all()
        )
        names = dict((await conn.execute(select(Network.id, Network.name))).all())
        region_names = dict((await conn.execute(select(Region.id, Region.name))).all())

    network_ids = _network_order(c.networks, names, per_network, filters)
    networks: dict[str, NetworkSummary] = {}
    for nid in network_ids:
        answered = int(per_network.get(nid, 0))
        if network_members is not None and nid in network_members:
            members, source = int(network_members[nid]), "slack"
        else:
            members, source = int(known_members.get(nid, answered)), "respondents"
        rate = (
            percent(answered, members)
            if members > 0 and source == "slack" and not filters.by_region
            else None
        )
        networks[nid] = NetworkSummary(
            name=names.get(nid, nid),
            members=members,
            respondents=answered,
            response_rate=rate,
            members_source=source,  # type: ignore[arg-type]
        )

    region_ids = sorted(
        {r or UNKNOWN_REGION for r in per_region} | set(filters.regions or ()),
        key=lambda r: (r == UNKNOWN_REGION, region_names.get(r, r).lower()),
    )
    region_summaries = {
        rid: RegionSummary(
            name=region_names.get(rid, "Unknown" if rid == UNKNOWN_REGION else rid),
            respondents=int(per_region.get(None if rid == UNKNOWN_REGION else rid, 0)),
        )
        for rid in region_ids
    }

    questions: list[QuestionAggregate] = []
    for q in consultation.questions:
        total = _breakdown(q, overall.get((None, q.id)))
        nets = {nid: _breakdown(q, by_network.get((nid, q.id))) for nid in network_ids}
        regs = {
            rid: _breakdown(q, by_region.get((None if rid == UNKNOWN_REGION else rid, q.id)))
            for rid in region_ids
        }
        differences: list[Difference] = []
        if q.kind == "stance":
            differences = material_differences("network", nets) + material_differences(
                "region", regs
            )
        tally = overall.get((None, q.id))
        phrases = {o.value: o.phrase for o in q.options if o.phrase}
        questions.append(
            QuestionAggregate(
                id=q.key,
                text=q.text,
                kind=q.kind,
                options=[
                    OptionInfo(value=v, label=label, phrase=phrases.get(v))
                    for v, label in _options(q)
                ],
                answered=total.answered,
                counts=total.counts,
                percentages=total.percentages,
                grouped=total.grouped,
                rows=(
                    {
                        r.value: RowAggregate(text=r.text, **total.rows[r.value].model_dump())
                        for r in q.rows
                    }
                    if q.kind == "matrix" and total.rows is not None
                    else None
                ),
                by_network=nets,
                by_region=regs,
                differences=differences,
                comments=tally.comments if tally else 0,
            )
        )

    result = Aggregate(
        consultation=ConsultationInfo(
            id=c.id,
            title=c.title,
            deadline=local(c.deadline, c.timezone).isoformat(),
            status=c.status,
            timezone=c.timezone,
            anonymous=c.anonymous,
        ),
        respondents=int(respondents),
        imported=int(imported),
        networks=networks,
        regions=region_summaries,
        questions=questions,
        filters=filters,
    )
    suppress_small_groups(result, min_group, material_differences)
    return result


def _scope(
    filters: Filters | None,
    region: str | None,
    network: str | None,
    regions: frozenset[str] | Iterable[str] | None,
) -> Filters:
    shorthand = Filters(region, network, frozenset(regions) if regions is not None else None)
    if filters is None:
        return shorthand
    if shorthand.active:
        raise TypeError("give either filters or region/network/regions, not both")
    return filters


def _network_order(
    targets: list[str] | None,
    names: Mapping[str, str],
    answered: Mapping[str, int],
    filters: Filters,
) -> list[str]:
    """The consultation's target networks (all known ones when it names none), then any other
    network respondents were recorded in; just the one network when filtered by network."""
    if filters.network is not None:
        return [filters.network]
    ordered = list(targets) if targets else sorted(names, key=lambda n: names[n].lower())
    extra = sorted(set(answered) - set(ordered))
    return ordered + extra


# --- comments and themes ---------------------------------------------------------------------


@dataclass(frozen=True)
class CommentRecord:
    respondent_key: str
    text: str
    quote_consent: str  # named | anonymous | no
    attribution: str | None  # "display name, organisation"; None when anonymous
    network_ids: tuple[str, ...]
    region_id: str | None
    choice: str | None  # stance / single choice value
    choices: tuple[str, ...] = ()  # multi choice values


def attribution_of(display_name: str | None, organisation: str | None) -> str | None:
    parts = [p.strip() for p in (display_name, organisation) if p and p.strip()]
    return ", ".join(parts) or None


async def iter_comments(
    db: Database,
    consultation: ConsultationView,
    question: QuestionView,
    filters: Filters,
    *,
    batch_size: int = COMMENT_BATCH,
) -> AsyncIterator[list[CommentRecord]]:
    """The question's non-empty comments in batches, in respondent order (keyset paging, so
    memory stays bounded at any size and no server-side cursor is held between batches)."""
    anonymous = consultation.consultation.anonymous
    last_id = 0
    while True:
        async with db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        Response.id,
                        Response.respondent_key,
                        Response.quote_consent,
                        Response.display_name,
                        Response.organisation,
                        Response.region_id,
                        Answer.id,
                        Answer.choice,
                        Answer.comment,
                    )
                    .select_from(_answers_join())
                    .where(
                        *scope_clauses(consultation.id, filters),
                        Answer.question_id == question.id,  # type: ignore[arg-type]
                        _has_comment(),
                        Response.id > last_id,  # type: ignore[operator]
                    )
                    .order_by(Response.id)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                return
            response_ids = [r[0] for r in rows]
            networks: dict[int, list[str]] = {}
            for rid, nid in await conn.execute(
                select(ResponseNetwork.response_id, ResponseNetwork.network_id)
                .where(ResponseNetwork.response_id.in_(response_ids))  # type: ignore[attr-defined]
                .order_by(ResponseNetwork.response_id, ResponseNetwork.network_id)
            ):
                networks.setdefault(rid, []).append(nid)
            selections: dict[int, list[str]] = {}
            if question.kind == "multi_choice":
                for aid, value in await conn.execute(
                    select(AnswerSelection.answer_id, AnswerSelection.value)
                    .where(AnswerSelection.answer_id.in_([r[6] for r in rows]))  # type: ignore[attr-defined]
                    .order_by(AnswerSelection.answer_id, AnswerSelection.value)
                ):
                    selections.setdefault(aid, []).append(value)
        yield [
            CommentRecord(
                respondent_key=key,
                text=comment.strip(),
                quote_consent=consent,
                attribution=None if anonymous else attribution_of(name, organisation),
                network_ids=tuple(networks.get(rid, ())),
                region_id=region_id,
                choice=choice,
                choices=tuple(selections.get(aid, ())),
            )
            for rid, key, consent, name, organisation, region_id, aid, choice, comment in rows
            if comment and comment.strip()
        ]
        last_id = rows[-1][0]
        if len(rows) < batch_size:
            return


async def comments_for(
    db: Database,
    consultation_id: str,
    question_key: str,
    *,
    filters: Filters | None = None,
    region: str | None = None,
    network: str | None = None,
    regions: frozenset[str] | Iterable[str] | None = None,
) -> list[CommentRecord]:
    """Every non-empty comment on one question, in scope (for themes and the appendix)."""
    consultation = await get_consultation(db, consultation_id)
    question = question_view(consultation, question_key)
    filters = _scope(filters, region, network, regions)
    out: list[CommentRecord] = []
    async for batch in iter_comments(db, consultation, question, filters):
        out.extend(batch)
    return out


def question_view(consultation: ConsultationView, key: str) -> QuestionView:
    for question in consultation.questions:
        if question.key == key:
            return question
    raise KeyError(f"consultation '{consultation.id}' has no question '{key}'")


def quote_text(text: str, attribution: str | None, *, quotable: str, anonymous: bool) -> str:
    """A quote as printed: attribution appended only with named consent, never when anonymous."""
    if attribution and quotable == "named" and not anonymous:
        return f"{text} — {attribution}"
    return text


# --- Slack channel membership ----------------------------------------------------------------


def utc_iso(moment: datetime | None) -> str:
    """An ISO 8601 instant with offset (UTC) for exports; '' when absent."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")
