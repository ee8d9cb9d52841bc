"""The draft formal response: built from the typed aggregate, checked, then written.

``build_draft`` is pure: it turns the ``Aggregate`` (bot.reporting.aggregation) and the comments
per question into a ``Draft`` of sentences, tables, charts, themes, suggested positions and an
appendix. Wording comes
from ``prompts/drafting/wording.j2`` (staff can reword it) and the house-style phrases from
``bot.reporting.phrasing``. Every sentence carries the ``Claim``\\ s behind its figures, and
``verify_figures`` re-derives each of them from the aggregate's counts and compares them with
the words actually printed, so no figure reaches the document unchecked. ``write_draft`` gathers the data
from the database, builds, verifies and writes Markdown (plus a ``charts/`` folder) or Word.

Suggested positions follow explicit rules on the computed shares (``suggest_position``):

* stance — supportive >= 60: support; disagree > 50: oppose; supportive >= 40 and more
  supportive than disagree: broadly support; disagree >= 40 and more than supportive:
  reservations; otherwise: mixed. The top two themes are named, and material differences
  between networks or regions (``bot.core.vocabulary``'s rule, found by the aggregation) are
  flagged.
* single choice — top option > 50: favour it; ahead of the next by >= 10 points: preferred
  option without a majority; otherwise: divided between the top two.
* multi choice — prioritise the options selected by at least half of respondents, or else the
  two selected most often.
* free text — reflect the top three themes, or review the comments when there are none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Literal, TypedDict

from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.core.vocabulary import GROUP_KEYS, STANCE_GROUPS, STANCE_VALUES
from bot.reporting import charts
from bot.reporting.aggregation import Aggregate, Breakdown, QuestionAggregate, ThemeSummary
from bot.reporting.phrasing import (
    ALTERNATIVE_PHRASES,
    PHRASE_BANDS,
    acceptable_phrases,
    choice_headline,
    format_pct,
    prose_label,
    round_pct,
    stance_headline,
    with_figure,
)
from bot.reporting.quotes import trim_quote
from bot.reporting.scope import UNKNOWN_REGION, Filters

__all__ = [
    "APPENDIX_LIMIT",
    "AppendixComment",
    "AppendixSection",
    "Cell",
    "Chart",
    "Claim",
    "ConsultationMeta",
    "Draft",
    "FigureCheckError",
    "QuestionDraft",
    "QuoteLine",
    "Statement",
    "Table",
    "ThemeLine",
    "build_draft",
    "derive",
    "gather",
    "render_markdown",
    "suggest_position",
    "verify_figures",
    "wording",
]

#: Comments per question reproduced in the appendix; the rest are counted and left to the CSV.
APPENDIX_LIMIT: Final = 2000
#: Quotes shown under each theme.
MAX_QUOTES: Final = 3
#: Options named in a multi-choice headline (the table shows all of them).
MAX_HEADLINE_OPTIONS: Final = 4
#: Material differences named in words per dimension (the tables show every group).
MAX_DIFFERENCES: Final = 2
#: Thresholds of the suggested-position rules (per cent of those who answered).
SUPPORT_AT: Final = 60.0
BROAD_SUPPORT_AT: Final = 40.0
OPPOSE_ABOVE: Final = 50.0
RESERVATIONS_AT: Final = 40.0
FAVOUR_ABOVE: Final = 50.0
PREFER_LEAD: Final = 10.0
PRIORITY_AT: Final = 50.0
#: A matrix row's proposed position is the option (lever) chosen most, when it leads the next
#: by at least this many percentage points of those who answered the row; otherwise, "no clear
#: view". The same margin as a single choice's "preferred option": below it the lead is within
#: what a handful of members changing their minds would overturn.
POSITION_LEAD: Final = 10.0
#: Key points at the top of the draft (three to six).
MAX_KEY_POINTS: Final = 6
MIN_KEY_POINTS: Final = 3
#: A question "divides" members when its two leading answers are each chosen by at least
#: DIVIDED_AT per cent and lie within DIVIDED_WITHIN points of each other.
DIVIDED_AT: Final = 20.0
DIVIDED_WITHIN: Final = 15.0
#: Themes named in the key points (the largest, one per question).
KEY_THEMES: Final = 2

STANCE_ORDER: Final = STANCE_VALUES
#: Stance groupings, as claim measures; prefixed so they never clash with an option's value.
GROUPED: Final[dict[str, tuple[str, ...]]] = {f"group:{g}": STANCE_GROUPS[g] for g in GROUP_KEYS}
SUPPORTIVE: Final = "group:supportive"
UNDECIDED: Final = "group:undecided"
DISAGREE: Final = "group:disagree"
_UNKNOWN_REGIONS: Final = frozenset({UNKNOWN_REGION})


class FigureCheckError(ValueError):
    """A sentence or table states a figure the data does not back; nothing is written.

    ``problems`` lists every one found; the message (one line, for the CLI) gives the first.
    """

    def __init__(self, problem: str, *more: str) -> None:
        self.problems = [problem, *more]
        extra = f" (and {len(more)} more)" if more else ""
        super().__init__(f"{problem}{extra}")


# --- the draft ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    """Where one printed figure comes from, so it can be re-derived from the export.

    ``scope`` "all" is the whole question (or the whole consultation when ``question`` is None);
    "network" / "region" a group in ``by_network`` / ``by_region`` (or ``networks``).
    ``measure`` is an option value, a stance grouping (``GROUPED``: "group:supportive" ...),
    "answered", "respondents", "members", "response_rate" or "theme" (``group`` = its label).
    ``row`` is a matrix question's row (its slug), within the scope.
    """

    unit: Literal["pct", "count"]
    measure: str
    question: str | None = None
    scope: Literal["all", "network", "region"] = "all"
    group: str | None = None
    row: str | None = None


@dataclass(slots=True)
class Statement:
    """A sentence and the figures it states, in order. ``quoted`` are names and labels used
    verbatim (they may contain digits) and are skipped when the figures are checked."""

    text: str
    claims: tuple[Claim, ...] = ()
    quoted: tuple[str, ...] = ()


@dataclass(slots=True)
class Cell:
    text: str
    claim: Claim | None = None


@dataclass(slots=True)
class Table:
    caption: str
    header: list[str]
    rows: list[list[Cell]]


@dataclass(slots=True)
class Chart:
    filename: str
    title: str
    alt: str
    png: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class QuoteLine:
    text: str
    attribution: str | None = None


@dataclass(slots=True)
class ThemeLine:
    label: str
    raised: Statement
    quotes: list[QuoteLine] = field(default_factory=list)


@dataclass(slots=True)
class QuestionDraft:
    number: int
    key: str
    text: str
    kind: str
    answered: int
    headline: list[Statement]
    chart: Chart | None
    tables: list[Table]
    differences: list[Statement]
    themes: list[ThemeLine]
    position_rule: str
    position: list[Statement]


@dataclass(frozen=True, slots=True)
class AppendixComment:
    text: str
    attribution: str | None = None
    answer: str | None = None


@dataclass(slots=True)
class AppendixSection:
    number: int
    key: str
    text: str
    comments: list[AppendixComment]
    total: int
    more: str | None = None


@dataclass(slots=True)
class Draft:
    title: str
    notice: str
    anonymous: bool
    introduction: list[Statement]
    questions: list[QuestionDraft]
    appendix_note: str
    appendix: list[AppendixSection]
    key_points: list[Statement] = field(default_factory=list)

    def statements(self) -> Iterator[tuple[str, Statement]]:
        """Every sentence that may state a figure, with where it is (for error messages)."""
        for i, statement in enumerate(self.key_points):
            yield f"key point {i + 1}", statement
        for i, statement in enumerate(self.introduction):
            yield f"introduction sentence {i + 1}", statement
        for q in self.questions:
            where = f"question {q.number} ({q.key})"
            for statement in q.headline:
                yield f"{where} headline", statement
            for statement in q.differences:
                yield f"{where} differences", statement
            for theme in q.themes:
                yield f"{where} theme {theme.label!r}", theme.raised
            for statement in q.position:
                yield f"{where} suggested position", statement

    def cells(self) -> Iterator[tuple[str, Cell]]:
        for q in self.questions:
            for table in q.tables:
                for row in table.rows:
                    for cell in row:
                        yield f"question {q.number} ({q.key}) table {table.caption!r}", cell


class ConsultationMeta(TypedDict, total=False):
    """What the draft says about the consultation itself (all text already formatted)."""

    title: str
    summary: str
    source_url: str | None
    deadline: str  # e.g. "Friday 8 January 2021, 5pm"
    launched: str | None
    closed: str | None
    anonymous: bool
    organisation: str  # whose views: "our members" (default) or e.g. "the NHS Confederation"
    scope: str | None  # e.g. "respondents in the North West" when filtered


# --- wording -----------------------------------------------------------------------------------


def _join(items: Sequence[str], word: str) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _number(n: int | float) -> str:
    return f"{int(n):,}"


def cell_pct(pct: float) -> str:
    """Table form of a percentage: "22.5%" / "50%", rounded as in the prose."""
    rounded = round_pct(pct)
    return f"{rounded:.0f}%" if rounded.is_integer() else f"{rounded:.1f}%"


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def md_escape(text: Any) -> str:
    """Inline Markdown: one line, no control characters, and the characters that would change
    the layout (emphasis, links, HTML, table bars, headings) escaped."""
    return _MD_SPECIAL.sub(r"\\\1", _CONTROL.sub("", " ".join(str(text).split())))


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("prompts", "drafting"),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        pct=format_pct,
        figure=with_figure,
        number=_number,
        join_and=lambda items: _join(list(items), "and"),
        join_or=lambda items: _join(list(items), "or"),
        md=md_escape,
        md_cell=md_escape,
    )
    return env


def wording() -> Any:
    """The macros and labels of ``prompts/drafting/wording.j2`` as attributes."""
    return _environment().get_template("wording.j2").module


def _say(macro: str, **kwargs: Any) -> str:
    """Call a wording macro and tidy its whitespace into one line."""
    return " ".join(str(getattr(wording(), macro)(**kwargs)).split())


# --- figures -----------------------------------------------------------------------------------


def _field(record: Any, name: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def _group(
    question: QuestionAggregate, scope: str, group: str | None, row: str | None = None
) -> Breakdown:
    try:
        return question.breakdown(scope, group, row)  # type: ignore[arg-type]
    except KeyError:
        where = f"{scope} {group!r}" + (f" row {row!r}" if row else "")
        raise FigureCheckError(f"no {where} in question {question.id!r}") from None


def _count_of(data: Breakdown, measure: str) -> int:
    if measure in GROUPED:
        return sum(int(data.counts.get(k, 0)) for k in GROUPED[measure])
    return int(data.counts.get(measure, 0))


def _question(export: Aggregate, key: str) -> QuestionAggregate:
    try:
        return export.question(key)
    except KeyError:
        raise FigureCheckError(f"no question {key!r} in the data") from None


def derive(export: Aggregate, claim: Claim) -> float | int:
    """The value of ``claim`` computed from the aggregate's counts (never its percentages)."""
    if claim.question is None:
        if claim.measure == "respondents" and claim.scope == "all":
            return export.respondents
        network = export.networks.get(str(claim.group))
        if claim.scope != "network" or network is None:
            raise FigureCheckError(f"cannot derive {claim}")
        if claim.measure == "respondents":
            return network.respondents
        if claim.measure == "members":
            return network.members
        if claim.measure == "response_rate" and network.members:
            return 100.0 * network.respondents / network.members
        raise FigureCheckError(f"cannot derive {claim}")

    question = _question(export, claim.question)
    if claim.measure.startswith("theme:"):  # a theme's respondents of one stance group
        group = claim.measure.split(":", 1)[1]
        for theme in question.themes:
            if theme.label == claim.group:
                return int((theme.stance or {}).get(group, 0))  # type: ignore[call-overload]
        raise FigureCheckError(f"no theme {claim.group!r} in question {claim.question!r}")
    if claim.measure == "theme":
        for theme in question.themes:
            if theme.label == claim.group:
                if claim.unit == "count":
                    return theme.count
                return _share(theme.count, question.answered, claim)
        raise FigureCheckError(f"no theme {claim.group!r} in question {claim.question!r}")
    data = _group(question, claim.scope, claim.group, claim.row)
    if claim.unit == "count":
        if claim.measure == "answered":
            return data.answered
        return _count_of(data, claim.measure)
    return _share(_count_of(data, claim.measure), data.answered, claim)


def _share(count: int, answered: int, claim: Claim) -> float:
    if answered <= 0:
        raise FigureCheckError(f"a percentage of nobody cannot be stated ({claim})")
    return 100.0 * count / answered


def _token(claim: Claim, value: float | int) -> str:
    return format_pct(value) if claim.unit == "pct" else _number(value)


def _statement(text: str, claims: Sequence[Claim] = (), quoted: Sequence[str] = ()) -> Statement:
    return Statement(text, tuple(claims), tuple(q for q in quoted if q))


_PCT_RE: Final = re.compile(r"(?<![\d.])(\d[\d,]*(?:\.\d+)?) per cent")
_BRACKETED_RE: Final = re.compile(r"\((\d[\d,]*(?:\.\d+)?) per cent\)")
_PHRASES: Final = sorted(
    {band.phrase for band in PHRASE_BANDS} | {alt[0] for alt in ALTERNATIVE_PHRASES},
    key=len,
    reverse=True,
)


def _check_statement(where: str, statement: Statement, export: Aggregate) -> list[str]:
    problems: list[str] = []
    text = statement.text
    for literal in sorted(statement.quoted, key=len, reverse=True):
        text = text.replace(literal, " ")
    try:
        expected = [(c, derive(export, c)) for c in statement.claims]
    except (FigureCheckError, KeyError, TypeError, ValueError) as exc:
        return [f"{where}: {exc}"]
    stated_pcts = [f"{m.group(1)} per cent" for m in _PCT_RE.finditer(text)]
    backed_pcts = [_token(c, v) for c, v in expected if c.unit == "pct"]
    if stated_pcts != backed_pcts:
        problems.append(
            f"{where}: states {stated_pcts or 'no percentages'} but the data gives "
            f"{backed_pcts or 'none'}: {statement.text!r}"
        )
    position = 0
    for claim, value in expected:
        if claim.unit != "count":
            continue
        token = re.escape(_token(claim, value))
        found = re.compile(rf"(?<![\d.,]){token}(?![\d,]|\.\d)").search(text, position)
        if found is None:
            problems.append(f"{where}: the count {_token(claim, value)} is missing: {text!r}")
        else:
            position = found.end()
    for m in _BRACKETED_RE.finditer(text):
        before = text[: m.start()].rstrip().lower()
        said = next((p for p in _PHRASES if before.endswith(p)), None)
        value = float(m.group(1).replace(",", ""))
        if said is not None and value <= 100 and said not in acceptable_phrases(value):
            problems.append(
                f"{where}: '{said}' does not describe {m.group(1)} per cent: {statement.text!r}"
            )
    return problems


def verify_figures(draft: Draft, export: Aggregate) -> None:
    """Raise ``FigureCheckError`` unless every figure in ``draft`` is backed by ``export``.

    Each sentence's per-cent figures must be exactly the re-derived values of its claims, in
    order; its counts must appear; words such as "almost two thirds" must fit the figure beside
    them; every table cell must show its re-derived value; and the aggregate's own percentages
    must agree with its counts.
    """
    problems: list[str] = []
    for question in export.questions:
        answered = question.answered
        for value, pct in question.percentages.items():
            count = int(question.counts.get(value, 0))
            if answered and abs(float(pct) - 100.0 * count / answered) > 0.051:
                problems.append(
                    f"question {question.id}: the export's {pct} for {value!r} does not "
                    f"match its counts"
                )
    for where, statement in draft.statements():
        problems.extend(_check_statement(where, statement, export))
    for where, cell in draft.cells():
        if cell.claim is None:
            continue
        try:
            value = derive(export, cell.claim)
        except (FigureCheckError, KeyError, TypeError, ValueError) as exc:
            problems.append(f"{where}: {exc}")
            continue
        shown = cell_pct(value) if cell.claim.unit == "pct" else _number(value)
        if cell.text != shown:
            problems.append(f"{where}: shows {cell.text!r} but the data gives {shown!r}")
    if problems:
        raise FigureCheckError(*problems)


# --- building ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Names:
    networks: Mapping[str, str]
    regions: Mapping[str, str]

    def network(self, key: str) -> str:
        return self.networks.get(key) or key

    def region(self, key: str | None) -> str:
        if key is None or str(key).lower() in _UNKNOWN_REGIONS:
            return str(wording().region_unknown)
        return self.regions.get(key) or key


def _options(question: QuestionAggregate) -> list[tuple[str, str]]:
    """(value, label) in the consultation's order (for tables, charts and the appendix)."""
    return [(o.value, o.label) for o in question.options]


def _prose_options(question: QuestionAggregate) -> list[tuple[str, str]]:
    """(value, words for running text) in the consultation's order: "favouring a middle way
    approach", not "favouring Middle way" (``bot.reporting.phrasing.prose_label``)."""
    return [(o.value, prose_label(o.label, o.phrase)) for o in question.options]


def _pct(export: Aggregate, claim: Claim) -> float:
    return float(derive(export, claim))


def _answered_groups(groups: Mapping[str, Breakdown]) -> list[str]:
    return [g for g, data in groups.items() if data.answered > 0]


def _stance_headline(export: Aggregate, key: str) -> list[Statement]:
    question = _question(export, key)
    if question.answered == 0:
        return [_statement(_say("nobody_answered"))]
    claim = {m: Claim("pct", m, key) for m in GROUPED}
    sup, dis, und = (_pct(export, claim[m]) for m in (SUPPORTIVE, DISAGREE, UNDECIDED))
    text = stance_headline(sup, dis, und, subject=str(wording().subject))
    # The same order as bot.reporting.phrasing.stance_headline; verify_figures fails loudly if it drifts.
    if round_pct(sup) == 0 and round_pct(dis) == 0:
        claims = [claim[UNDECIDED]]
    else:
        lead, other = (DISAGREE, SUPPORTIVE) if dis > sup else (SUPPORTIVE, DISAGREE)
        claims = [claim[lead]]
        if round_pct(_pct(export, claim[other])) != 0:
            claims.append(claim[other])
        if round_pct(und) != 0:
            claims.append(claim[UNDECIDED])
    statements = [_statement(text, claims)]
    strong = {m: Claim("pct", m, key) for m in ("strongly_agree", "strongly_disagree")}
    values = {m: _pct(export, c) for m, c in strong.items()}
    shown = {m: v if round_pct(v) > 0 else None for m, v in values.items()}
    if any(v is not None for v in shown.values()):
        statements.append(
            _statement(
                _say(
                    "stance_strength",
                    strongly_agree=shown["strongly_agree"],
                    strongly_disagree=shown["strongly_disagree"],
                ),
                [
                    strong[m]
                    for m in ("strongly_agree", "strongly_disagree")
                    if shown[m] is not None
                ],
            )
        )
    return statements


def _single_choice_headline(export: Aggregate, key: str) -> list[Statement]:
    question = _question(export, key)
    if question.answered == 0:
        return [_statement(_say("nobody_answered"))]
    w = wording()
    chosen, none = [], []
    for value, label in _prose_options(question):
        claim = Claim("pct", value, key)
        pct = _pct(export, claim)
        (chosen if round_pct(pct) > 0 else none).append((claim, label, pct))
    text = choice_headline(str(w.subject), str(w.choice_verb), [(lbl, p) for _, lbl, p in chosen])
    labels = [lbl for _, lbl, _ in chosen]
    statements = [_statement(text, [c for c, _, _ in chosen], labels)]
    if none:
        none_labels = [lbl for _, lbl, _ in none]
        statements.append(_statement(_say("choice_none", labels=none_labels), (), none_labels))
    return statements


def _multi_choice_headline(export: Aggregate, key: str) -> list[Statement]:
    question = _question(export, key)
    if question.answered == 0:
        return [_statement(_say("nobody_answered"))]
    order = _prose_options(question)
    ranked = sorted(
        (
            (question.counts.get(value, 0), -i, Claim("pct", value, key), label)
            for i, (value, label) in enumerate(order)
        ),
        key=lambda item: (-item[0], -item[1]),
    )
    ranked = [r for r in ranked if r[0] > 0][:MAX_HEADLINE_OPTIONS]
    options = [{"label": label, "pct": _pct(export, claim)} for _, _, claim, label in ranked]
    tied = len(ranked) > 1 and ranked[0][0] == ranked[1][0]
    text = _say("multi_choice_headline", options=options, tied=tied)
    labels = [label for *_, label in ranked]
    return [
        _statement(text, [claim for _, _, claim, _ in ranked], labels),
        _statement(_say("multi_choice_note")),
    ]


def _matrix_headline(export: Aggregate, key: str) -> list[Statement]:
    question = _question(export, key)
    if question.answered == 0:
        return [_statement(_say("nobody_answered"))]
    return [
        _statement(
            _say("matrix_headline", answered=question.answered),
            [Claim("count", "answered", key)],
        )
    ]


def leading_option(counts: Mapping[str, int], answered: int, order: Sequence[str]) -> str | None:
    """The option that is a matrix row's proposed position, or None for "no clear view".

    It must lead the runner-up by ``POSITION_LEAD`` points of those who answered the row,
    compared on exact counts (a tie never leads); options tie-break in the file's order only
    for ranking, never to invent a lead.
    """
    if answered <= 0 or not order:
        return None
    ranked = sorted(order, key=lambda value: -int(counts.get(value, 0)))
    first = int(counts.get(ranked[0], 0))
    second = int(counts.get(ranked[1], 0)) if len(ranked) > 1 else 0
    if first == 0 or (first - second) * 100 < POSITION_LEAD * answered:
        return None
    return ranked[0]


def _positions_table(export: Aggregate, question: QuestionAggregate) -> Table | None:
    """Each ask, the share choosing each lever, and the proposed position (the seed briefings'
    "our ask / our proposed position" table)."""
    if question.rows is None:
        return None
    w = wording()
    options = _options(question)
    header = [str(w.column_ask), str(w.column_answered), *[label for _, label in options]]
    header.append(str(w.column_position))
    rows = []
    for slug, row in question.rows.items():
        answered = Claim("count", "answered", question.id, row=slug)
        cells = [Cell(row.text), Cell(_number(derive(export, answered)), answered)]
        for value, _ in options:
            if row.answered:
                claim = Claim("pct", value, question.id, row=slug)
                cells.append(Cell(cell_pct(_pct(export, claim)), claim))
            else:
                cells.append(Cell(str(w.no_answers_cell)))
        lead = leading_option(row.counts, row.answered, [v for v, _ in options])
        cells.append(Cell(dict(options)[lead] if lead else str(w.no_clear_view)))
        rows.append(cells)
    return Table(str(w.heading_positions), header, rows)


def _free_text_headline(export: Aggregate, key: str) -> list[Statement]:
    question = _question(export, key)
    answered = question.answered
    if answered == 0:
        return [_statement(_say("nobody_answered"))]
    themes = [_theme_phrase(t.label) for t in question.themes[:3]]
    text = _say("free_text_headline", answered=answered, themes=themes)
    return [_statement(text, [Claim("count", "answered", key)], themes)]


def _theme_phrase(label: str) -> str:
    """A theme label as it reads inside a sentence: "Pooled budgets" becomes "pooled budgets";
    an acronym ("GP contracts", "ICS powers") keeps its capitals."""
    text = " ".join(str(label).split())
    first = text.split(" ", 1)[0]
    if sum(ch.isupper() for ch in first) >= 2:
        return text
    return text[:1].lower() + text[1:]


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _table(
    export: Aggregate,
    question: QuestionAggregate,
    scope: Literal["network", "region"],
    names: _Names,
) -> Table | None:
    w = wording()
    groups = question.by_network if scope == "network" else question.by_region
    if not groups:
        return None
    kind = question.kind
    qid = question.id
    if kind == "stance":
        measures = [
            (SUPPORTIVE, str(w.column_supportive)),
            (UNDECIDED, str(w.column_undecided)),
            (DISAGREE, str(w.column_disagree)),
        ]
    elif kind in ("single_choice", "multi_choice"):
        measures = _options(question)
    else:
        measures = []
    caption = str(w.heading_by_network if scope == "network" else w.heading_by_region)
    first = str(w.column_network if scope == "network" else w.column_region)
    header = [first, str(w.column_answered), *[label for _, label in measures]]

    def row(label: str, row_scope: Any, group: str | None) -> list[Cell]:
        answered = Claim("count", "answered", qid, row_scope, group)
        cells = [Cell(label), Cell(_number(derive(export, answered)), answered)]
        has_answers = derive(export, answered) > 0
        for measure, _ in measures:
            if has_answers:
                claim = Claim("pct", measure, qid, row_scope, group)
                cells.append(Cell(cell_pct(_pct(export, claim)), claim))
            else:
                cells.append(Cell(str(w.no_answers_cell)))
        return cells

    rows = [row(str(w.all_respondents), "all", None)]
    label_of = names.network if scope == "network" else names.region
    ordered = sorted(
        groups, key=lambda g: (g is None or str(g).lower() in _UNKNOWN_REGIONS, label_of(g).lower())
    )
    rows += [row(label_of(g), scope, g) for g in ordered]
    return Table(caption, header, rows)


def _differences(export: Aggregate, question: QuestionAggregate, names: _Names) -> list[Statement]:
    """Material differences in supportive share between networks and between regions."""
    if question.kind != "stance":
        return []
    qid = question.id
    # The aggregate lists every material pair, largest gap first; the draft names the largest
    # few per dimension and leaves the rest to the tables.
    pairs: list[tuple[str, str, str]] = []
    taken: dict[str, int] = {}
    for item in question.differences:
        if taken.get(item.dimension, 0) < MAX_DIFFERENCES:
            taken[item.dimension] = taken.get(item.dimension, 0) + 1
            pairs.append((item.dimension, item.lower, item.higher))
    statements = []
    for dimension, lower, higher in pairs:
        low_claim = Claim("pct", SUPPORTIVE, qid, dimension, lower)  # type: ignore[arg-type]
        high_claim = Claim("pct", SUPPORTIVE, qid, dimension, higher)  # type: ignore[arg-type]
        label_of = names.network if dimension == "network" else names.region
        low_name, high_name = label_of(lower), label_of(higher)
        text = _say(
            "difference",
            dimension=dimension,
            lower=low_name,
            lower_pct=_pct(export, low_claim),
            higher=high_name,
            higher_pct=_pct(export, high_claim),
        )
        statements.append(_statement(text, [low_claim, high_claim], [low_name, high_name]))
    return statements


def _comment_index(records: Sequence[Any]) -> dict[str, Any]:
    """Comments by every form a theme's quote may take: the full text, the trimmed quote, and
    the trimmed quote followed by " — attribution" (as ``bot.reporting.aggregation`` prints named quotes)."""
    index: dict[str, Any] = {}
    for record in records:
        text = str(_field(record, "text") or "")
        forms = [" ".join(text.split()), trim_quote(text)]
        attribution = _field(record, "attribution")
        if attribution:
            forms.append(f"{trim_quote(text)} — {' '.join(str(attribution).split())}")
        for form in forms:
            current = index.get(form)
            # If two members wrote the same words, the stricter consent wins.
            if current is None or _field(record, "quote_consent") == "no":
                index[form] = record
    return index


def _attribution(record: Any, anonymous: bool) -> str | None:
    if anonymous or _field(record, "quote_consent") != "named":
        return None
    value = _field(record, "attribution")
    return " ".join(str(value).split()) if value else None


def _find_quote(text: str, index: Mapping[str, Any], records: Sequence[Any]) -> tuple[Any, str]:
    """The member a quote comes from and the quote as printed: a whole comment (the index), or a
    verbatim part of one (a codebook theme's quote is the point that raised it). The stricter
    consent wins when several members wrote the words."""
    flat = " ".join(text.split())
    record = index.get(flat)
    if record is not None:
        return record, trim_quote(str(_field(record, "text")))
    words, _, _ = flat.rpartition(" — ")  # a named quote carries its attribution
    found = None
    for candidate in records:
        comment = " ".join(str(_field(candidate, "text") or "").split())
        for part in (flat, words):
            if part and part in comment:
                if found is None or _field(candidate, "quote_consent") == "no":
                    found = (candidate, trim_quote(part))
                break
    return found if found is not None else (None, "")


STANCE_NAMES = {"supportive": "supportive", "undecided": "undecided", "disagree": "opposed"}


def _themes(
    question: QuestionAggregate, records: Sequence[Any], anonymous: bool
) -> list[ThemeLine]:
    """Themes with counts, their stance mix, and up to three quotes, each traced to a member
    who allowed quoting."""
    qid = question.id
    index = _comment_index(records)
    lines = []
    for theme in question.themes:
        quotes: list[QuoteLine] = []
        for text in theme.quotes:
            record, printed = _find_quote(text, index, records)
            if record is None or _field(record, "quote_consent") not in ("named", "anonymous"):
                continue  # never quote a comment we cannot trace to a member's consent
            line = QuoteLine(printed, _attribution(record, anonymous))
            if line in quotes:
                continue
            quotes.append(line)
            if len(quotes) >= MAX_QUOTES:
                break
        stance_mix = [
            (group, int(n))
            for group, n in (theme.stance or {}).items()
            if group in STANCE_NAMES and int(n) > 0
        ]
        stance = [(n, STANCE_NAMES[group]) for group, n in stance_mix]
        claims = [Claim("count", "theme", qid, "all", theme.label)]
        claims += [
            Claim("count", f"theme:{group}", qid, "all", theme.label) for group, _ in stance_mix
        ]
        raised = _statement(_say("theme_raised", count=theme.count, stance=stance), claims)
        lines.append(ThemeLine(_capitalise(theme.label), raised, quotes))
    return lines


def _themes_for_position(question: QuestionAggregate, rule: str) -> list[str]:
    """The themes a suggested position names: for a stance question, those raised most by
    members who did not support it (the points to press), else the most raised."""
    themes = list(question.themes)
    if question.kind == "stance" and rule != "no_answers":

        def against(theme: ThemeSummary) -> int:
            mix = theme.stance or {}
            if rule in ("oppose", "reservations"):
                return int(mix.get("disagree", 0))
            return int(mix.get("disagree", 0)) + int(mix.get("undecided", 0))

        pressing = [t for t in themes if against(t) > 0]
        if pressing:
            themes = sorted(pressing, key=lambda t: -against(t))
    return [_theme_phrase(t.label) for t in themes]


def suggest_position(
    export: Aggregate, question: QuestionAggregate, differs: bool = False
) -> tuple[str, dict[str, Any]]:
    """The rule (see the module docstring) and the arguments for its wording macro."""
    key = question.id
    kind = question.kind
    themes = [_theme_phrase(t.label) for t in question.themes]
    if question.answered == 0:
        return "no_answers", {}
    if kind == "stance":
        sup = round_pct(_pct(export, Claim("pct", SUPPORTIVE, key)))
        dis = round_pct(_pct(export, Claim("pct", DISAGREE, key)))
        if sup >= SUPPORT_AT:
            rule = "support"
        elif dis > OPPOSE_ABOVE:
            rule = "oppose"
        elif sup >= BROAD_SUPPORT_AT and sup > dis:
            rule = "broadly_support"
        elif dis >= RESERVATIONS_AT and dis > sup:
            rule = "reservations"
        else:
            rule = "mixed"
        return rule, {"themes": _themes_for_position(question, rule)[:2], "differs": differs}
    if kind == "matrix":
        order = [v for v, _ in _options(question)]
        unclear = any(
            leading_option(row.counts, row.answered, order) is None
            for row in (question.rows or {}).values()
            if row.answered
        )
        return "positions", {"unclear": unclear, "themes": themes[:3]}
    if kind in ("single_choice", "multi_choice"):
        ranked = sorted(
            (
                (_pct(export, Claim("pct", v, key)), -i, label)
                for i, (v, label) in enumerate(_prose_options(question))
            ),
            reverse=True,
        )
        if kind == "multi_choice":
            top = [label for pct, _, label in ranked if round_pct(pct) >= PRIORITY_AT]
            top = top or [label for pct, _, label in ranked[:2] if pct > 0]
            return "priorities", {"top": top, "differs": differs}
        (first, _, first_label), *rest = ranked
        second, second_label = (rest[0][0], rest[0][2]) if rest else (0.0, "")
        if round_pct(first) > FAVOUR_ABOVE:
            return "favour", {"top": first_label, "differs": differs}
        if not rest or round_pct(first) - round_pct(second) >= PREFER_LEAD:
            return "prefer", {"top": first_label, "differs": differs}
        return "divided", {"top": first_label, "second": second_label, "differs": differs}
    if themes:
        return "themes", {"themes": themes[:3]}
    return "review", {}


def _literals(args: Mapping[str, Any]) -> list[str]:
    """Labels and theme names a position sentence repeats verbatim."""
    found: list[str] = []
    for value in args.values():
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(str(v) for v in value)
    return found


def _chart(
    export: Aggregate, question: QuestionAggregate, number: int, names: _Names
) -> Chart | None:
    qid = question.id
    kind = question.kind
    if question.answered == 0:
        return None
    filename = f"q{number:02d}-{re.sub(r'[^a-z0-9-]+', '-', str(qid).lower()).strip('-')}.png"
    title = _say("question_heading", number=number, text=question.text)
    all_label = str(wording().all_respondents)
    networks = _answered_groups(question.by_network)
    network_rows = sorted(networks, key=lambda g: names.network(g).lower())
    if kind == "stance":
        overall = question.breakdown("all", None)
        rows = [(all_label, {k: _count_of(overall, k) for k in STANCE_ORDER})]
        rows += [
            (names.network(g), {k: _count_of(question.by_network[g], k) for k in STANCE_ORDER})
            for g in network_rows
        ]
        png = charts.stance_chart(title, rows)
        alt = f"Stacked bar chart of answers to question {number}, overall and by network"
    elif kind in ("single_choice", "multi_choice"):
        options = _options(question)
        overall = [(label, _pct(export, Claim("pct", v, qid))) for v, label in options]
        by_group = (
            [
                (
                    names.network(g),
                    [_pct(export, Claim("pct", v, qid, "network", g)) for v, _ in options],
                )
                for g in network_rows
            ]
            if len(network_rows) > 1
            else None
        )
        png = charts.choice_chart(title, overall, by_group=by_group, overall_label=all_label)
        alt = f"Bar chart of the options chosen in question {number}"
    elif kind == "matrix":
        options = _options(question)
        rows = [
            (row.text, {v: float(row.counts.get(v, 0)) for v, _ in options})
            for row in (question.rows or {}).values()
        ]
        png = charts.matrix_chart(title, options, rows)
        alt = f"Stacked bar chart of the option chosen for each ask in question {number}"
    else:
        if not question.themes:
            return None
        values = [
            (_capitalise(t.label), _pct(export, Claim("pct", "theme", qid, "all", t.label)))
            for t in question.themes
        ]
        png = charts.choice_chart(_say("themes_chart_title"), values, overall_label=all_label)
        alt = f"Bar chart of the themes raised in answers to question {number}"
    return Chart(filename, title, alt, png)


def _key_points(export: Aggregate, drafts: Sequence[QuestionDraft]) -> list[Statement]:
    """Three to six bullets from the data: the clearest consensus, the most divided question,
    the largest material differences, the largest themes (and, to make three, the response
    count). Each carries its claims, so ``verify_figures`` checks them like any sentence."""
    w = wording()
    numbers = {d.key: d.number for d in drafts}
    points: list[Statement] = []

    # (share, claim, words after "of respondents", question number), clearest first.
    consensus: list[tuple[float, int, Claim, str]] = []
    divided: list[tuple[float, int, list[tuple[Claim, str]]]] = []
    for q in export.questions:
        if q.answered == 0:
            continue
        n = numbers[q.id]
        if q.kind == "stance":
            sides = [
                (Claim("pct", SUPPORTIVE, q.id), "were supportive", "supportive"),
                (Claim("pct", DISAGREE, q.id), "disagreed", "disagreeing"),
            ]
            shares = [(_pct(export, c), c, verb, short) for c, verb, short in sides]
            consensus += [(pct, n, c, verb) for pct, c, verb, _ in shares]
            (a, ca, _, sa), (b, cb, _, sb) = shares
            if min(a, b) >= DIVIDED_AT and abs(a - b) <= DIVIDED_WITHIN:
                divided.append((abs(a - b), n, [(ca, sa), (cb, sb)]))
        elif q.kind == "single_choice":
            verb = str(w.choice_verb)
            ranked = sorted(
                ((_pct(export, Claim("pct", v, q.id)), v, p) for v, p in _prose_options(q)),
                key=lambda item: -item[0],
            )
            consensus += [(pct, n, Claim("pct", v, q.id), f"{verb} {p}") for pct, v, p in ranked]
            if (
                len(ranked) > 1
                and ranked[1][0] >= DIVIDED_AT
                and ranked[0][0] - ranked[1][0] <= DIVIDED_WITHIN
            ):
                (a, va, pa), (b, vb, pb) = ranked[:2]
                divided.append(
                    (
                        a - b,
                        n,
                        [
                            (Claim("pct", va, q.id), f"favouring {pa}"),
                            (Claim("pct", vb, q.id), f"favouring {pb}"),
                        ],
                    )
                )
        elif q.kind == "matrix":
            for slug, row in (q.rows or {}).items():
                if not row.answered:
                    continue
                for value, prose in _prose_options(q):
                    claim = Claim("pct", value, q.id, row=slug)
                    consensus.append(
                        (_pct(export, claim), n, claim, f"chose {prose} for “{row.text}”")
                    )
    clearest = [c for c in consensus if round_pct(c[0]) > 50]
    if clearest:
        pct, n, claim, verb = max(clearest, key=lambda c: (round_pct(c[0]), -c[1]))
        text = _say("key_consensus", number=n, figure=pct, verb=verb)
        points.append(_statement(text, [claim], [verb]))
    if divided:
        _, n, sides = min(divided, key=lambda d: (d[0], d[1]))
        (first_claim, first), (second_claim, second) = sides
        text = _say(
            "key_divided",
            number=n,
            first=first,
            first_pct=_pct(export, first_claim),
            second=second,
            second_pct=_pct(export, second_claim),
        )
        points.append(_statement(text, [first_claim, second_claim], [first, second]))
    gaps = sorted(
        (
            (q.differences[0].gap, numbers[q.id], d.differences[0])
            for q, d in zip(export.questions, drafts, strict=True)
            if q.differences and d.differences
        ),
        key=lambda g: (-g[0], g[1]),
    )
    for _, n, difference in gaps[:2]:
        text = _say("key_difference", number=n, difference=difference.text)
        points.append(_statement(text, difference.claims, difference.quoted))
    themes = sorted(
        ((t.count, numbers[q.id], q.id, t.label) for q in export.questions for t in q.themes[:1]),
        key=lambda t: (-t[0], t[1]),
    )
    for count, n, qid, label in themes[: min(KEY_THEMES, MAX_KEY_POINTS - len(points))]:
        phrase = _theme_phrase(label)
        text = _say("key_theme", number=n, label=phrase, count=count)
        points.append(_statement(text, [Claim("count", "theme", qid, "all", label)], [phrase]))
    if len(points) < MIN_KEY_POINTS:
        points.insert(
            0,
            _statement(
                _say("key_respondents", total=export.respondents), [Claim("count", "respondents")]
            ),
        )
    return points[:MAX_KEY_POINTS]


def _introduction(export: Aggregate, meta: ConsultationMeta, names: _Names) -> list[Statement]:
    title = meta.get("title") or export.consultation.title
    organisation = meta.get("organisation") or "our members"
    source_url = meta.get("source_url")
    statements = [
        _statement(
            _say("intro_purpose", title=title, organisation=organisation, source_url=source_url),
            (),
            [title, organisation, source_url or ""],
        )
    ]
    networks = export.networks
    if networks:
        network_names = [names.network(n) for n in networks]
        statements.append(
            _statement(_say("intro_networks", names=network_names), (), network_names)
        )
    deadline = meta.get("deadline") or export.consultation.deadline
    dates = [deadline, meta.get("launched") or "", meta.get("closed") or ""]
    statements.append(
        _statement(
            _say(
                "intro_dates",
                launched=meta.get("launched"),
                deadline=deadline,
                closed=meta.get("closed"),
            ),
            (),
            dates,
        )
    )
    if meta.get("scope"):
        statements.append(_statement(_say("intro_scope", scope=meta["scope"]), (), [meta["scope"]]))
    claims = [Claim("count", "respondents")]
    rows = []
    for network_id, data in networks.items():
        respondents = data.respondents
        if respondents == 0:
            continue
        claims.append(Claim("count", "respondents", None, "network", network_id))
        members = data.members
        rate = None
        # A rate is only stated when the aggregate gives one: without Slack's channel membership
        # the "members" of a network are just its respondents, and 100 per cent would mislead.
        if members and data.response_rate is not None:
            rate = float(derive(export, Claim("pct", "response_rate", None, "network", network_id)))
            claims.append(Claim("pct", "response_rate", None, "network", network_id))
            claims.append(Claim("count", "members", None, "network", network_id))
        rows.append(
            {
                "name": names.network(network_id),
                "respondents": respondents,
                "members": members,
                "rate": rate,
            }
        )
    total = export.respondents
    overlapping = sum(r["respondents"] for r in rows) > total
    statements.append(
        _statement(
            _say("intro_respondents", total=total, networks=rows, overlapping=overlapping),
            claims,
            [r["name"] for r in rows],
        )
    )
    if meta.get("anonymous"):
        statements.append(_statement(_say("intro_anonymous")))
    return statements


def _appendix(
    number: int,
    question: QuestionAggregate,
    records: Sequence[Any],
    anonymous: bool,
    limit: int | None,
) -> AppendixSection:
    labels = dict(_options(question))
    comments = []
    shown = records if limit is None else records[:limit]
    for record in shown:
        text = " ".join(str(_field(record, "text") or "").split())
        if not text:
            continue
        choice = _field(record, "choice") or _field(record, "choices")
        if isinstance(choice, (list, tuple)):
            answer = ", ".join(labels.get(str(c), str(c)) for c in choice) or None
        else:
            answer = labels.get(str(choice), str(choice)) if choice else None
        comments.append(AppendixComment(text, _attribution(record, anonymous), answer))
    omitted = len(records) - len(shown)
    more = _say("appendix_more", omitted=omitted) if omitted > 0 else None
    return AppendixSection(number, question.id, question.text, comments, len(records), more)


def build_draft(
    export: Aggregate,
    comments_by_question: Mapping[str, Sequence[Any]],
    *,
    consultation_meta: ConsultationMeta | None = None,
    network_names: Mapping[str, str] | None = None,
    region_names: Mapping[str, str] | None = None,
    appendix_limit: int | None = APPENDIX_LIMIT,
    with_charts: bool = True,
) -> Draft:
    """The draft response for the aggregate ``export`` and its comments.

    ``comments_by_question`` maps question ids to records with ``text``, ``quote_consent``
    ("named" | "anonymous" | "no"), ``attribution`` and ``choice`` (``CommentRecord``\\ s or
    dicts). Quotes are only shown when traced to a comment whose author allowed quoting, and
    attributions only for "named" consent in a consultation that is not anonymous.
    """
    meta: ConsultationMeta = dict(consultation_meta or {})  # type: ignore[assignment]
    anonymous = bool(meta.get("anonymous", False))
    network_map = {k: v.name or k for k, v in export.networks.items()}
    network_map.update(network_names or {})
    region_map = {k: v.name or k for k, v in export.regions.items()}
    region_map.update(region_names or {})
    names = _Names(network_map, region_map)
    headlines: dict[str, Callable[[Aggregate, str], list[Statement]]] = {
        "stance": _stance_headline,
        "single_choice": _single_choice_headline,
        "multi_choice": _multi_choice_headline,
        "free_text": _free_text_headline,
        "matrix": _matrix_headline,
    }

    questions = []
    appendix = []
    for number, question in enumerate(export.questions, start=1):
        qid = question.id
        records = list(comments_by_question.get(qid) or [])
        # A matrix question's table is its positions table; its breakdowns by network and
        # region are in the data exports.
        by_group = (
            (_positions_table(export, question),)
            if question.kind == "matrix"
            else (
                _table(export, question, "network", names),
                _table(export, question, "region", names),
            )
        )
        tables = [t for t in by_group if t is not None]
        differences = _differences(export, question, names)
        rule, args = suggest_position(export, question, differs=bool(differences))
        questions.append(
            QuestionDraft(
                number=number,
                key=qid,
                text=question.text,
                kind=question.kind,
                answered=question.answered,
                headline=headlines[question.kind](export, qid),
                chart=_chart(export, question, number, names) if with_charts else None,
                tables=tables,
                differences=differences,
                themes=_themes(question, records, anonymous),
                position_rule=rule,
                position=[_statement(_say("position", rule=rule, **args), (), _literals(args))],
            )
        )
        appendix.append(_appendix(number, question, records, anonymous, appendix_limit))

    title = meta.get("title") or export.consultation.title
    return Draft(
        title=_say("document_title", title=title),
        notice=_say("draft_notice"),
        anonymous=anonymous,
        introduction=_introduction(export, meta, names),
        questions=questions,
        appendix_note=_say("appendix_note", anonymous=anonymous),
        appendix=appendix,
        key_points=_key_points(export, questions),
    )


# --- rendering and writing ---------------------------------------------------------------------


def render_markdown(draft: Draft, charts_dir_name: str = "charts") -> tuple[str, dict[str, bytes]]:
    """The draft as Markdown and the chart PNGs it references, by path relative to the .md."""
    template = _environment().get_template("draft.md.j2")
    text = template.render(draft=draft, charts_dir=charts_dir_name)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    files = {
        f"{charts_dir_name}/{q.chart.filename}": q.chart.png for q in draft.questions if q.chart
    }
    return text, files


def _human_date(moment: Any, timezone: str) -> str:
    from bot.core.timefmt import local

    t = local(moment, timezone)
    return f"{t:%A} {t.day} {t:%B %Y}"


def _folded(kind: str) -> dict[str, str]:
    from bot.reporting.suppression import OTHER, OTHER_NETWORKS, OTHER_REGIONS

    return {OTHER: OTHER_NETWORKS if kind == "networks" else OTHER_REGIONS}


async def gather(
    db: Any,
    consultation_id: str,
    *,
    filters: Filters,
    network_members: Mapping[str, int] | None,
    organisation: str | None,
    progress: Callable[[str], Any] | None,
    min_group: int = 5,
    llm: Any = None,  # bot.reporting.llm_coding.LlmEndpoint: the model that codes themes, if any
) -> tuple[Aggregate, dict[str, list[Any]], ConsultationMeta, dict[str, str], dict[str, str]]:
    """The aggregate in scope (with themes), its comments by question, what the draft says about
    the consultation, and the names of networks and regions."""
    from bot.consultations.catalogue import get_consultation
    from bot.consultations.directory import list_networks, list_regions
    from bot.core.timefmt import human_deadline
    from bot.reporting.aggregation import aggregate, comments_for
    from bot.reporting.codebook import add_themes

    def step(stage: str) -> None:
        if progress is not None:
            progress(stage)

    step("Reading the consultation")
    view = await get_consultation(db, consultation_id)
    consultation = view.consultation
    step("Aggregating responses")
    result = await aggregate(
        db,
        consultation_id,
        filters=filters,
        network_members=dict(network_members) if network_members else None,
        min_group=min_group,
    )
    if result.withheld:
        from bot.reporting.suppression import ScopeWithheld

        raise ScopeWithheld(result.respondents, min_group)
    step("Reading comments")
    comments: dict[str, list[Any]] = {}
    for question in result.questions:
        if question.comments > 0 or question.kind == "free_text":
            comments[question.id] = list(
                await comments_for(db, consultation_id, question.id, filters=filters)
            )
    step("Finding themes")
    await add_themes(db, result, consultation=view, comments=comments, llm=llm)
    # "other": the groups folded together below the minimum group size (anonymous only).
    network_names = {**{n.id: n.name for n in await list_networks(db)}, **_folded("networks")}
    region_names = {**{r.id: r.name for r in await list_regions(db)}, **_folded("regions")}
    tz = consultation.timezone
    scope_parts = []
    if filters.network:
        scope_parts.append(f"members of the {network_names.get(filters.network, filters.network)}")
    chosen_regions = filters.chosen_regions()
    if chosen_regions is not None:
        scope_parts.append(
            "respondents in "
            + (_join([region_names.get(r, r) for r in chosen_regions], "and") or "no region")
        )
    meta: ConsultationMeta = {
        "title": consultation.title,
        "summary": consultation.summary,
        "source_url": consultation.source_url,
        "deadline": human_deadline(consultation.deadline, tz),
        "launched": _human_date(consultation.launched_at, tz) if consultation.launched_at else None,
        "closed": _human_date(consultation.closed_at, tz) if consultation.closed_at else None,
        "anonymous": consultation.anonymous,
        "organisation": organisation or "our members",
        "scope": "; ".join(scope_parts) or None,
    }
    return result, comments, meta, network_names, region_names
