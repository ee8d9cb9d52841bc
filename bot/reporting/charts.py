"""PNG charts for Slack summaries and the Word draft response (docs/contracts.md, The draft formal response).

Uses matplotlib's object-oriented API with the Agg canvas directly (no pyplot), so charts can be
drawn from worker threads without touching global figure state or needing a display.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Final

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bot.core.vocabulary import STANCE_LABELS, STANCE_VALUES
from bot.reporting.phrasing import round_pct

__all__ = [
    "STANCE_COLOURS",
    "STANCE_KEYS",
    "STANCE_LABELS",
    "choice_chart",
    "matrix_chart",
    "stance_chart",
]

STANCE_KEYS: Final = STANCE_VALUES
#: Blue / grey / orange diverging palette: distinguishable with the common colour-vision
#: deficiencies and in greyscale print.
STANCE_COLOURS: Final[dict[str, str]] = {
    "strongly_agree": "#08519c",
    "agree": "#6baed6",
    "undecided": "#bdbdbd",
    "disagree": "#fdae6b",
    "strongly_disagree": "#d94801",
}
#: Okabe-Ito qualitative palette for grouped bars (colour-blind safe).
GROUP_COLOURS: Final = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)

DPI: Final = 150
WIDTH_IN: Final = 8.0
_TITLE_WRAP: Final = 70
_LABEL_WRAP: Final = 26
_MIN_SEGMENT_LABEL: Final = 5.0


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width=width, break_long_words=True)) or text


def _pct_label(value: float) -> str:
    """ "22%" / "12.5%": the same rounding as the prose so chart and text agree."""
    rounded = round_pct(min(max(value, 0.0), 100.0))
    return f"{rounded:.0f}%" if rounded.is_integer() else f"{rounded:.1f}%"


def _text_colour(background: str) -> str:
    r, g, b = to_rgb(background)
    return "white" if (0.299 * r + 0.587 * g + 0.114 * b) < 0.55 else "black"


def _check_value(value: float, what: str) -> float:
    number = float(value)
    if math.isnan(number) or number < 0:
        raise ValueError(f"{what} must be a non-negative number, got {value!r}")
    return number


def _render(fig: Figure) -> bytes:
    canvas = FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    return buffer.getvalue()


def _new_figure(height_in: float, title: str) -> Figure:
    title_lines = _wrap(title, _TITLE_WRAP).count("\n")
    fig = Figure(figsize=(WIDTH_IN, height_in + 0.25 * title_lines), dpi=DPI, layout="constrained")
    fig.suptitle(_wrap(title, _TITLE_WRAP), fontsize=11, fontweight="bold")
    return fig


def _style_axes(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)


def stance_chart(title: str, rows: Sequence[tuple[str, Mapping[str, float]]]) -> bytes:
    """One horizontal 100% stacked bar per row (e.g. "All respondents", "North West").

    Each row's values (counts or percentages; keys from ``STANCE_KEYS``, missing keys are 0) are
    rescaled to 100%. A row with no answers is drawn empty and labelled "No answers" rather than
    failing, because a region may simply not have responded yet.
    """
    return _stacked_chart(
        title, [(key, STANCE_LABELS[key], STANCE_COLOURS[key]) for key in STANCE_KEYS], rows
    )


def matrix_chart(
    title: str,
    options: Sequence[tuple[str, str]],
    rows: Sequence[tuple[str, Mapping[str, float]]],
) -> bytes:
    """A matrix question: one 100% stacked bar per row (each ask), a segment per option (each
    lever), in the options' order and the colour-blind-safe palette."""
    segments = [
        (value, label, GROUP_COLOURS[i % len(GROUP_COLOURS)])
        for i, (value, label) in enumerate(options)
    ]
    return _stacked_chart(title, segments, rows)


def _stacked_chart(
    title: str,
    segments: Sequence[tuple[str, str, str]],
    rows: Sequence[tuple[str, Mapping[str, float]]],
) -> bytes:
    """Horizontal 100% stacked bars; ``segments`` are (key, legend label, colour) in order."""
    if not rows:
        raise ValueError("a stacked chart needs at least one row")
    keys = [key for key, _, _ in segments]
    colours = {key: colour for key, _, colour in segments}
    labels_wrapped = [_wrap(label, _LABEL_WRAP) for label, _ in rows]
    extra_lines = sum(label.count("\n") for label in labels_wrapped)
    fig = _new_figure(1.2 + 0.5 * len(rows) + 0.15 * extra_lines + 0.4, title)
    ax = fig.add_subplot()

    for y, (label, values) in enumerate(rows):
        unknown = set(values) - set(keys)
        if unknown:
            raise ValueError(f"unknown keys for {label!r}: {sorted(unknown)}")
        numbers = [_check_value(values.get(key, 0.0), f"{label} {key}") for key in keys]
        total = sum(numbers)
        if total <= 0:
            ax.text(1, y, "No answers", va="center", ha="left", fontsize=8, color="#555555")
            continue
        left = 0.0
        for key, number in zip(keys, numbers, strict=True):
            share = 100.0 * number / total
            if share <= 0:
                continue
            colour = colours[key]
            ax.barh(y, share, left=left, height=0.6, color=colour, edgecolor="white", linewidth=0.5)
            if share >= _MIN_SEGMENT_LABEL:
                ax.text(
                    left + share / 2,
                    y,
                    _pct_label(share),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=_text_colour(colour),
                )
            left += share

    ax.set_yticks(range(len(rows)), labels_wrapped, fontsize=8)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first row at the top
    ax.set_xlim(0, 100)
    ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"], fontsize=7)
    _style_axes(ax)
    handles = [Patch(color=colour, label=legend) for _, legend, colour in segments]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncol=min(len(handles), 5),
        fontsize=7,
        frameon=False,
    )
    return _render(fig)


def choice_chart(
    title: str,
    options: Sequence[tuple[str, float]],
    *,
    by_group: Sequence[tuple[str, Sequence[float]]] | None = None,
    overall_label: str = "All respondents",
) -> bytes:
    """Horizontal bars of the percentage choosing each option, in the order given.

    With ``by_group`` (e.g. per network: ``[("ICS Network", [20.0, 50.0, 30.0]), ...]``) each
    option gets a cluster of bars: the overall figure first, then one per group, with a legend.
    """
    if not options:
        raise ValueError("choice_chart needs at least one option")
    series: list[tuple[str, list[float]]] = [
        (overall_label, [_check_value(v, label) for label, v in options])
    ]
    for name, values in by_group or ():
        if len(values) != len(options):
            raise ValueError(f"group {name!r} has {len(values)} values for {len(options)} options")
        series.append((name, [_check_value(v, f"{name} value") for v in values]))
    for name, values in series:
        if any(v > 100.0001 for v in values):
            raise ValueError(f"percentages for {name!r} must be within 0..100")

    labels_wrapped = [_wrap(label, _LABEL_WRAP) for label, _ in options]
    n_series = len(series)
    per_option = 0.45 if n_series == 1 else 0.2 + 0.22 * n_series
    fig = _new_figure(1.2 + per_option * len(options) + (0.3 if n_series > 1 else 0), title)
    ax = fig.add_subplot()

    bar_height = 0.7 / n_series
    for s, (name, values) in enumerate(series):
        colour = GROUP_COLOURS[s % len(GROUP_COLOURS)]
        offsets = [i - 0.35 + bar_height * (s + 0.5) for i in range(len(options))]
        ax.barh(offsets, values, height=bar_height * 0.9, color=colour, label=name)
        for y, value in zip(offsets, values, strict=True):
            ax.text(
                value + 1,
                y,
                _pct_label(value),
                va="center",
                ha="left",
                fontsize=7 if n_series == 1 else 6,
            )

    ax.set_yticks(range(len(options)), labels_wrapped, fontsize=8)
    ax.set_ylim(len(options) - 0.5, -0.5)
    ax.set_xlim(0, 110)  # room for the label beside a 100% bar
    ax.set_xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"], fontsize=7)
    _style_axes(ax)
    if n_series > 1:
        fig.legend(
            loc="outside lower center",
            ncol=min(n_series, 4),
            fontsize=7,
            frameon=False,
        )
    return _render(fig)
