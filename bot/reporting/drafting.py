"""The draft formal response (docs/contracts.md, The draft formal response): built from the export data, checked, then written.

``build_draft`` is pure: it turns the export JSON (§9) and the comments per question into a
``Draft`` of sentences, tables, charts, themes, suggested positions and an appendix. Wording comes
from ``prompts/drafting/wording.j2`` (staff can reword it) and the house-style phrases from
``bot.reporting.phrasing``. Every sentence carries the ``Claim``\\ s behind its figures, and
``verify_figures`` re-derives each of them from the counts and compares them with the words
actually printed, so no figure reaches the document unchecked. ``write_draft`` gathers the data
from the database, builds, verifies and writes Markdown (plus a ``charts/`` folder) or Word.

Suggested positions follow explicit rules on the computed shares (``suggest_position``):

* stance — supportive >= 60: support; disagree > 50: oppose; supportive >= 40 and more
  supportive than disagree: broadly support; disagree >= 40 and more than supportive:
  reservations; otherwise: mixed. The top two themes are named, and material differences
  between networks or regions are flagged.
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

from bot.reporting import charts
from bot.reporting.phrasing import (
    PHRASE_BANDS,
    choice_headline,
    format_pct,
    proportion_phrase,
    round_pct,
    stance_headline,
    with_figure,
)
from bot.reporting.themes import trim_quote

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
#: Rules for material differences when the export does not list them (beyond docs/contracts.md, Export JSON).
DIFFERENCE_MIN_GAP: Final = 15.0
DIFFERENCE_MIN_ANSWERS: Final = 10
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

STANCE_ORDER: Final = charts.STANCE_KEYS
#: Stance groupings, as claim measures; prefixed so they never clash with an option's value.
GROUPED: Final[dict[str, tuple[str, ...]]] = {
    "group:supportive": ("strongly_agree", "agree"),
    "group:undecided": ("undecided",),
    "group:disagree": ("disagree", "strongly_disagree"),
}
SUPPORTIVE: Final = "group:supportive"
UNDECIDED: Final = "group:undecided"
DISAGREE: Final = "group:disagree"
_UNKNOWN_REGIONS: Final = frozenset({"", "none", "unknown", "null", "_none", "_unknown"})


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
    """

    unit: Literal["pct", "count"]
    measure: str
    question: str | None = None
    scope: Literal["all", "network", "region"] = "all"
    group: str | None = None


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

    def statements(self) -> Iterator[tuple[str, Statement]]:
        """Every sentence that may state a figure, with where it is (for error messages)."""
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


def _group(question: Mapping[str, Any], scope: str, group: str | None) -> Mapping[str, Any]:
    if scope == "all":
        return question
    key = "by_network" if scope == "network" else "by_region"
    data = (question.get(key) or {}).get(group)
    if data is None:
        raise FigureCheckError(f"no {scope} {group!r} in question {question.get('id')!r}")
    return data


def _count_of(data: Mapping[str, Any], measure: str) -> int:
    counts = data.get("counts") or {}
    if measure in GROUPED:
        return sum(int(counts.get(k, 0)) for k in GROUPED[measure])
    return int(counts.get(measure, 0))


def _question(export: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    for question in export.get("questions", []):
        if question["id"] == key:
            return question
    raise FigureCheckError(f"no question {key!r} in the data")


def derive(export: Mapping[str, Any], claim: Claim) -> float | int:
    """The value of ``claim`` computed from the export's counts (never from its percentages)."""
    if claim.question is None:
        if claim.measure == "respondents" and claim.scope == "all":
            return int(export["respondents"])
        network = (export.get("networks") or {}).get(claim.group)
        if claim.scope != "network" or network is None:
            raise FigureCheckError(f"cannot derive {claim}")
        if claim.measure in ("respondents", "members"):
            return int(network[claim.measure])
        if claim.measure == "response_rate" and network.get("members"):
            return 100.0 * int(network["respondents"]) / int(network["members"])
        raise FigureCheckError(f"cannot derive {claim}")

    question = _question(export, claim.question)
    if claim.measure.startswith("theme:"):  # a theme's respondents of one stance group
        for theme in question.get("themes") or []:
            if theme["label"] == claim.group:
                return int((theme.get("stance") or {}).get(claim.measure.split(":", 1)[1], 0))
        raise FigureCheckError(f"no theme {claim.group!r} in question {claim.question!r}")
    if claim.measure == "theme":
        for theme in question.get("themes") or []:
            if theme["label"] == claim.group:
                count = int(theme["count"])
                if claim.unit == "count":
                    return count
                return _share(count, int(question["answered"]), claim)
        raise FigureCheckError(f"no theme {claim.group!r} in question {claim.question!r}")
    data = _group(question, claim.scope, claim.group)
    answered = int(data.get("answered") or 0)
    if claim.unit == "count":
        if claim.measure == "answered":
            return answered
        return _count_of(data, claim.measure)
    return _share(_count_of(data, claim.measure), answered, claim)


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
_PHRASES: Final = sorted({band.phrase for band in PHRASE_BANDS}, key=len, reverse=True)


def _check_statement(where: str, statement: Statement, export: Mapping[str, Any]) -> list[str]:
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
        if said is not None and value <= 100 and said != proportion_phrase(value):
            problems.append(
                f"{where}: '{said}' does not describe {m.group(1)} per cent: {statement.text!r}"
            )
    return problems


def verify_figures(draft: Draft, export: Mapping[str, Any]) -> None:
    """Raise ``FigureCheckError`` unless every figure in ``draft`` is backed by ``export``.

    Each sentence's per-cent figures must be exactly the re-derived values of its claims, in
    order; its counts must appear; words such as "almost two thirds" must fit the figure beside
    them; every table cell must show its re-derived value; and the export's own percentages must
    agree with its counts.
    """
    problems: list[str] = []
    for question in export.get("questions", []):
        answered = int(question.get("answered") or 0)
        for value, pct in (question.get("percentages") or {}).items():
            count = int((question.get("counts") or {}).get(value, 0))
            if answered and abs(float(pct) - 100.0 * count / answered) > 0.051:
                problems.append(
                    f"question {question['id']}: the export's {pct} for {value!r} does not "
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


def _options(question: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(value, label) in the consultation's order, whatever shape the export gives them in."""
    kind = question["kind"]
    raw = question.get("options")
    labels: dict[str, str] = dict(question.get("labels") or {})
    pairs: list[tuple[str, str]] = []
    if isinstance(raw, Mapping):
        pairs = [(str(v), str(label)) for v, label in raw.items()]
    elif isinstance(raw, Sequence) and not isinstance(raw, str):
        for item in raw:
            if isinstance(item, Mapping):
                pairs.append((str(item["value"]), str(item.get("label") or item["value"])))
            elif isinstance(item, Sequence) and not isinstance(item, str):
                pairs.append((str(item[0]), str(item[1])))
            else:
                pairs.append((str(item), labels.get(str(item), str(item))))
    if not pairs and kind == "stance":
        pairs = [(k, labels.get(k, charts.STANCE_LABELS[k])) for k in STANCE_ORDER]
    if not pairs:
        pairs = [(v, labels.get(v, v)) for v in labels] or [
            (v, v) for v in (question.get("counts") or {})
        ]
    known = {v for v, _ in pairs}
    extra = [v for v in (question.get("counts") or {}) if v not in known]
    return pairs + [(v, labels.get(v, v)) for v in extra]


def _pct(export: Mapping[str, Any], claim: Claim) -> float:
    return float(derive(export, claim))


def _answered_groups(question: Mapping[str, Any], key: str) -> list[str]:
    groups = question.get(key) or {}
    return [g for g, data in groups.items() if int(data.get("answered") or 0) > 0]


def _stance_headline(export: Mapping[str, Any], key: str) -> list[Statement]:
    question = _question(export, key)
    if int(question.get("answered") or 0) == 0:
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


def _single_choice_headline(export: Mapping[str, Any], key: str) -> list[Statement]:
    question = _question(export, key)
    if int(question.get("answered") or 0) == 0:
        return [_statement(_say("nobody_answered"))]
    w = wording()
    chosen, none = [], []
    for value, label in _options(question):
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


def _multi_choice_headline(export: Mapping[str, Any], key: str) -> list[Statement]:
    question = _question(export, key)
    if int(question.get("answered") or 0) == 0:
        return [_statement(_say("nobody_answered"))]
    order = _options(question)
    ranked = sorted(
        (
            (_count_of(question, value), -i, Claim("pct", value, key), label)
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


def _free_text_headline(export: Mapping[str, Any], key: str) -> list[Statement]:
    question = _question(export, key)
    answered = int(question.get("answered") or 0)
    if answered == 0:
        return [_statement(_say("nobody_answered"))]
    themes = [_theme_phrase(t["label"]) for t in (question.get("themes") or [])[:3]]
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
    export: Mapping[str, Any],
    question: Mapping[str, Any],
    scope: Literal["network", "region"],
    names: _Names,
) -> Table | None:
    w = wording()
    key = "by_network" if scope == "network" else "by_region"
    groups = question.get(key) or {}
    if not groups:
        return None
    kind = question["kind"]
    qid = question["id"]
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


def _differences(
    export: Mapping[str, Any], question: Mapping[str, Any], names: _Names
) -> list[Statement]:
    """Material differences in supportive share between networks and between regions."""
    if question["kind"] != "stance":
        return []
    qid = question["id"]
    pairs: list[tuple[str, str, str]] = []
    listed = question.get("differences")
    if listed is not None:
        # The export lists every material pair, largest gap first; the draft names the largest
        # few per dimension and leaves the rest to the tables.
        taken: dict[str, int] = {}
        for item in listed:
            dimension = item["dimension"]
            if dimension in ("network", "region") and taken.get(dimension, 0) < MAX_DIFFERENCES:
                taken[dimension] = taken.get(dimension, 0) + 1
                pairs.append((dimension, str(item["lower"]), str(item["higher"])))
    else:
        for dimension, key in (("network", "by_network"), ("region", "by_region")):
            groups = {
                g: 100.0 * _count_of(d, SUPPORTIVE) / int(d["answered"])
                for g, d in (question.get(key) or {}).items()
                if int(d.get("answered") or 0) >= DIFFERENCE_MIN_ANSWERS
                and str(g).lower() not in _UNKNOWN_REGIONS
            }
            if len(groups) < 2:
                continue
            ranked = sorted(groups, key=lambda g: (groups[g], str(g)))
            low, high = ranked[0], ranked[-1]
            if groups[high] - groups[low] >= DIFFERENCE_MIN_GAP:
                pairs.append((dimension, low, high))
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
    question: Mapping[str, Any], records: Sequence[Any], anonymous: bool
) -> list[ThemeLine]:
    """Themes with counts, their stance mix, and up to three quotes, each traced to a member
    who allowed quoting."""
    qid = question["id"]
    index = _comment_index(records)
    lines = []
    for theme in question.get("themes") or []:
        quotes: list[QuoteLine] = []
        for quote in theme.get("quotes") or []:
            text = quote if isinstance(quote, str) else str(_field(quote, "text") or "")
            record, printed = _find_quote(text, index, records)
            if record is None or _field(record, "quote_consent") not in ("named", "anonymous"):
                continue  # never quote a comment we cannot trace to a member's consent
            line = QuoteLine(printed, _attribution(record, anonymous))
            if line in quotes:
                continue
            quotes.append(line)
            if len(quotes) >= MAX_QUOTES:
                break
        count = int(theme["count"])
        label = theme["label"]
        stance = [
            (int(n), STANCE_NAMES[group])
            for group, n in (theme.get("stance") or {}).items()
            if group in STANCE_NAMES and int(n) > 0
        ]
        claims = [Claim("count", "theme", qid, "all", label)]
        claims += [
            Claim("count", f"theme:{group}", qid, "all", label)
            for group, n in (theme.get("stance") or {}).items()
            if group in STANCE_NAMES and int(n) > 0
        ]
        raised = _statement(_say("theme_raised", count=count, stance=stance), claims)
        lines.append(ThemeLine(_capitalise(str(label)), raised, quotes))
    return lines


def _themes_for_position(question: Mapping[str, Any], rule: str) -> list[str]:
    """The themes a suggested position names: for a stance question, those raised most by
    members who did not support it (the points to press), else the most raised."""
    themes = list(question.get("themes") or [])
    if question.get("kind") == "stance" and rule != "no_answers":

        def against(theme: Mapping[str, Any]) -> int:
            mix = theme.get("stance") or {}
            if rule in ("oppose", "reservations"):
                return int(mix.get("disagree", 0))
            return int(mix.get("disagree", 0)) + int(mix.get("undecided", 0))

        pressing = [t for t in themes if against(t) > 0]
        if pressing:
            themes = sorted(pressing, key=lambda t: -against(t))
    return [_theme_phrase(t["label"]) for t in themes]


def suggest_position(
    export: Mapping[str, Any], question: Mapping[str, Any], differs: bool = False
) -> tuple[str, dict[str, Any]]:
    """The rule (see the module docstring) and the arguments for its wording macro."""
    key = question["id"]
    kind = question["kind"]
    themes = [_theme_phrase(t["label"]) for t in (question.get("themes") or [])]
    if int(question.get("answered") or 0) == 0:
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
    if kind in ("single_choice", "multi_choice"):
        ranked = sorted(
            (
                (_pct(export, Claim("pct", v, key)), -i, label)
                for i, (v, label) in enumerate(_options(question))
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
    export: Mapping[str, Any], question: Mapping[str, Any], number: int, names: _Names
) -> Chart | None:
    qid = question["id"]
    kind = question["kind"]
    if int(question.get("answered") or 0) == 0:
        return None
    filename = f"q{number:02d}-{re.sub(r'[^a-z0-9-]+', '-', str(qid).lower()).strip('-')}.png"
    title = _say("question_heading", number=number, text=question["text"])
    all_label = str(wording().all_respondents)
    networks = _answered_groups(question, "by_network")
    network_rows = sorted(networks, key=lambda g: names.network(g).lower())
    if kind == "stance":
        rows = [(all_label, {k: _count_of(question, k) for k in STANCE_ORDER})]
        rows += [
            (names.network(g), {k: _count_of(question["by_network"][g], k) for k in STANCE_ORDER})
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
    else:
        themes = question.get("themes") or []
        if not themes:
            return None
        values = [
            (
                _capitalise(str(t["label"])),
                _pct(export, Claim("pct", "theme", qid, "all", t["label"])),
            )
            for t in themes
        ]
        png = charts.choice_chart(_say("themes_chart_title"), values, overall_label=all_label)
        alt = f"Bar chart of the themes raised in answers to question {number}"
    return Chart(filename, title, alt, png)


def _introduction(
    export: Mapping[str, Any], meta: ConsultationMeta, names: _Names
) -> list[Statement]:
    title = meta.get("title") or export["consultation"]["title"]
    organisation = meta.get("organisation") or "our members"
    source_url = meta.get("source_url")
    statements = [
        _statement(
            _say("intro_purpose", title=title, organisation=organisation, source_url=source_url),
            (),
            [title, organisation, source_url or ""],
        )
    ]
    networks = export.get("networks") or {}
    if networks:
        network_names = [names.network(n) for n in networks]
        statements.append(
            _statement(_say("intro_networks", names=network_names), (), network_names)
        )
    deadline = meta.get("deadline") or str(export["consultation"].get("deadline") or "")
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
        respondents = int(data.get("respondents") or 0)
        if respondents == 0:
            continue
        claims.append(Claim("count", "respondents", None, "network", network_id))
        members = data.get("members")
        rate = None
        # A rate is only stated when the export gives one: without Slack's channel membership the
        # "members" of a network are just its respondents, and 100 per cent would mislead.
        if members and data.get("response_rate") is not None:
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
    total = int(export.get("respondents") or 0)
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
    question: Mapping[str, Any],
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
    return AppendixSection(number, question["id"], question["text"], comments, len(records), more)


def build_draft(
    export: Mapping[str, Any],
    comments_by_question: Mapping[str, Sequence[Any]],
    *,
    consultation_meta: ConsultationMeta | None = None,
    network_names: Mapping[str, str] | None = None,
    region_names: Mapping[str, str] | None = None,
    appendix_limit: int | None = APPENDIX_LIMIT,
    with_charts: bool = True,
) -> Draft:
    """The draft response for ``export`` (docs/contracts.md, Export JSON shape) and its comments.

    ``comments_by_question`` maps question ids to records with ``text``, ``quote_consent``
    ("named" | "anonymous" | "no"), ``attribution`` and ``choice`` (``CommentRecord``\\ s or
    dicts). Quotes are only shown when traced to a comment whose author allowed quoting, and
    attributions only for "named" consent in a consultation that is not anonymous.
    """
    meta: ConsultationMeta = dict(consultation_meta or {})  # type: ignore[assignment]
    anonymous = bool(meta.get("anonymous", False))
    network_map = {k: v.get("name") or k for k, v in (export.get("networks") or {}).items()}
    network_map.update(network_names or {})
    region_map = {k: v.get("name") or k for k, v in (export.get("regions") or {}).items()}
    region_map.update(region_names or {})
    names = _Names(network_map, region_map)
    headlines: dict[str, Callable[[Mapping[str, Any], str], list[Statement]]] = {
        "stance": _stance_headline,
        "single_choice": _single_choice_headline,
        "multi_choice": _multi_choice_headline,
        "free_text": _free_text_headline,
    }

    questions = []
    appendix = []
    for number, question in enumerate(export.get("questions", []), start=1):
        qid = question["id"]
        records = list(comments_by_question.get(qid) or [])
        tables = [
            t
            for t in (
                _table(export, question, "network", names),
                _table(export, question, "region", names),
            )
            if t is not None
        ]
        differences = _differences(export, question, names)
        rule, args = suggest_position(export, question, differs=bool(differences))
        questions.append(
            QuestionDraft(
                number=number,
                key=qid,
                text=question["text"],
                kind=question["kind"],
                answered=int(question.get("answered") or 0),
                headline=headlines[question["kind"]](export, qid),
                chart=_chart(export, question, number, names) if with_charts else None,
                tables=tables,
                differences=differences,
                themes=_themes(question, records, anonymous),
                position_rule=rule,
                position=[_statement(_say("position", rule=rule, **args), (), _literals(args))],
            )
        )
        appendix.append(_appendix(number, question, records, anonymous, appendix_limit))

    title = meta.get("title") or export["consultation"]["title"]
    return Draft(
        title=_say("document_title", title=title),
        notice=_say("draft_notice"),
        anonymous=anonymous,
        introduction=_introduction(export, meta, names),
        questions=questions,
        appendix_note=_say("appendix_note", anonymous=anonymous),
        appendix=appendix,
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


async def gather(
    db: Any,
    consultation_id: str,
    *,
    region: str | None,
    network: str | None,
    regions: Sequence[str] | None,
    network_members: Mapping[str, int] | None,
    organisation: str | None,
    progress: Callable[[str], Any] | None,
    llm: Any = None,  # bot.reporting.llm_coding.LlmEndpoint: the model that codes themes, if any
) -> tuple[dict[str, Any], dict[str, list[Any]], ConsultationMeta, dict[str, str], dict[str, str]]:
    from bot.consultations.catalogue import get_consultation
    from bot.consultations.directory import list_networks, list_regions
    from bot.core.timefmt import human_deadline
    from bot.reporting.aggregation import add_themes, aggregate, comments_for

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
        region=region,
        network=network,
        regions=list(regions) if regions else None,
        network_members=dict(network_members) if network_members else None,
        with_themes=False,
    )
    step("Reading comments")
    comments: dict[str, list[Any]] = {}
    for question in result.questions:
        if question.comments > 0 or question.kind == "free_text":
            comments[question.id] = list(
                await comments_for(
                    db,
                    consultation_id,
                    question.id,
                    region=region,
                    network=network,
                    regions=list(regions) if regions else None,
                )
            )
    step("Finding themes")
    await add_themes(db, result, consultation=view, comments=comments, llm=llm)
    export = result.to_export_json()
    network_names = {n.id: n.name for n in await list_networks(db)}
    region_names = {r.id: r.name for r in await list_regions(db)}
    tz = consultation.timezone
    scope_parts = []
    if network:
        scope_parts.append(f"members of the {network_names.get(network, network)}")
    chosen_regions = [region] if region else list(regions or [])
    if chosen_regions:
        scope_parts.append(
            "respondents in " + _join([region_names.get(r, r) for r in chosen_regions], "and")
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
    return export, comments, meta, network_names, region_names
