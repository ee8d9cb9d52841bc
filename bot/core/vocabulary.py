"""The words every room shares about answers: the stance scale, its grouped view, and the rule
for a "material" difference between two groups of respondents.

It lives in core because the consultation file (its stance choices), answering (the modal and
the import) and reporting (counts, charts, drafts) all need the same scale, and rooms only
import downward. Everything here is data or a pure function.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final, Literal

# --- the stance scale ------------------------------------------------------------------------

#: The five-point scale, most supportive first: (value stored and exported, label shown).
STANCES: Final[tuple[tuple[str, str], ...]] = (
    ("strongly_agree", "Strongly agree"),
    ("agree", "Agree"),
    ("undecided", "Undecided"),
    ("disagree", "Disagree"),
    ("strongly_disagree", "Strongly disagree"),
)
STANCE_VALUES: Final[tuple[str, ...]] = tuple(value for value, _ in STANCES)
STANCE_LABELS: Final[dict[str, str]] = dict(STANCES)

# --- the grouped view ------------------------------------------------------------------------

#: The three groups a stance falls into. "disagree" (not "opposed") is the key the export JSON
#: has always used for the third group, so it stays the key.
Group = Literal["supportive", "undecided", "disagree"]
GROUP_KEYS: Final[tuple[Group, ...]] = ("supportive", "undecided", "disagree")
STANCE_GROUPS: Final[dict[Group, tuple[str, ...]]] = {
    "supportive": ("strongly_agree", "agree"),
    "undecided": ("undecided",),
    "disagree": ("disagree", "strongly_disagree"),
}
#: Short labels (bars, table columns) and long ones (spreadsheets, where the reader has no key).
GROUP_LABELS: Final[dict[Group, str]] = {
    "supportive": "Supportive",
    "undecided": "Undecided",
    "disagree": "Disagree",
}
GROUP_DESCRIPTIONS: Final[dict[Group, str]] = {
    "supportive": "Supportive (strongly agree or agree)",
    "undecided": "Undecided",
    "disagree": "Disagree (disagree or strongly disagree)",
}


def group_of(stance: str) -> Group | None:
    """The group a stance value belongs to; None for anything off the scale."""
    for group, members in STANCE_GROUPS.items():
        if stance in members:
            return group
    return None


def grouped_counts(counts: dict[str, int]) -> dict[Group, int]:
    """Stance counts summed into the three groups (values off the scale are ignored)."""
    return {g: sum(int(counts.get(v, 0)) for v in STANCE_GROUPS[g]) for g in GROUP_KEYS}


# --- material differences --------------------------------------------------------------------

#: Two groups (networks or regions) differ materially on a stance question when their
#: supportive shares are at least this many percentage points apart...
MATERIAL_GAP_POINTS: Final = 15
#: ...and each group has at least this many answers (a gap between tiny groups is noise).
MATERIAL_MIN_ANSWERS: Final = 10


def material_gap(
    supportive_a: int, answered_a: int, supportive_b: int, answered_b: int
) -> Fraction | None:
    """The exact gap (a fraction of 1) between two groups' supportive shares when it is material,
    else None.

    The one rule, applied to every pair of groups (not just the highest and lowest), so that
    a third group far from both is never missed, and computed on exact fractions of the counts
    (not on rounded percentages) so a gap of 14.96 points never passes as 15.
    """
    if answered_a < MATERIAL_MIN_ANSWERS or answered_b < MATERIAL_MIN_ANSWERS:
        return None
    gap = abs(Fraction(supportive_a, answered_a) - Fraction(supportive_b, answered_b))
    return gap if gap * 100 >= MATERIAL_GAP_POINTS else None
