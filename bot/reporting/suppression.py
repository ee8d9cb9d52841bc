"""The minimum group size of anonymous consultations (CONSULTBOT_MIN_GROUP): no output shows a
group so small that its answers are one person's (or a few people's).

Applied in one place: to the aggregate as it is computed (`bot.reporting.aggregation.aggregate`),
which every output is made from (Slack summaries, JSON, Markdown, Word, charts, the XLSX summary
sheet); and, for the answer sheet (CSV, XLSX rows), to each respondent's network and region
(`coarsen`). Three rules:

- A breakdown group (a region, a network) with fewer respondents than the minimum is folded
  into "other", marked suppressed. While "other" itself would be below the minimum, the next
  smallest group is folded in too, so "other" can never be worked out by subtracting the groups
  shown from the total.
- When the whole scope is below the minimum (e.g. a regional lead's region with four answers so
  far) the aggregate is withheld: the count of respondents only, no answers, no comments.
- On the answer sheet a network and region are shown only where at least the minimum of
  respondents share that combination; otherwise they are coarsened to "other".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:  # the aggregate's types; aggregation itself calls in here, so no import
    from bot.reporting.aggregation import Aggregate, Breakdown, Difference, QuestionAggregate

    Differences = Callable[
        [Literal["network", "region"], Mapping[str, Breakdown]], list[Difference]
    ]

OTHER = "other"
OTHER_REGIONS = "Other regions"
OTHER_NETWORKS = "Other networks"
K = TypeVar("K")


class ScopeWithheld(Exception):
    """Fewer respondents in scope than the minimum group size: nothing but the count is shown."""

    def __init__(self, respondents: int, min_group: int) -> None:
        super().__init__(withheld_text(min_group))
        self.respondents = respondents
        self.min_group = min_group


def withheld_text(min_group: int) -> str:
    return (
        f"fewer than {min_group} responses so far in this anonymous consultation: the answers "
        "are shown once there are enough that none can be told apart"
    )


def groups_to_fold(sizes: Mapping[K, int], min_group: int) -> set[K]:
    """The groups to fold into "other": those below the minimum, then the smallest of the rest
    while "other" is still below it (so subtraction cannot recover it). Empty groups are shown:
    a nought says nothing about anyone."""
    folded = {g for g, n in sizes.items() if 0 < n < min_group}
    if not folded:
        return folded
    rest = sorted((n, str(g), g) for g, n in sizes.items() if g not in folded and n > 0)
    while sum(sizes[g] for g in folded) < min_group and rest:
        folded.add(rest.pop(0)[2])
    return folded


def _percent(count: int, total: int) -> float:
    """bot.reporting.aggregation.percent: to one decimal place, half up."""
    return 0.0 if total <= 0 else ((count * 2000 + total) // (2 * total)) / 10


def _merged(breakdowns: list[Breakdown]) -> Breakdown:
    answered = sum(b.answered for b in breakdowns)
    counts: Counter[str] = Counter()
    for b in breakdowns:
        counts.update(b.counts)
    keys = list(breakdowns[0].counts) if breakdowns else []
    grouped = None
    if breakdowns and breakdowns[0].grouped is not None:
        grouped_counts: Counter[str] = Counter()
        for b in breakdowns:
            assert b.grouped is not None
            grouped_counts.update(b.grouped.counts)
        groups = list(breakdowns[0].grouped.counts)
        grouped = breakdowns[0].grouped.model_copy(
            update={
                "counts": {g: grouped_counts[g] for g in groups},
                "percentages": {g: _percent(grouped_counts[g], answered) for g in groups},
            }
        )
    rows = None
    if any(b.rows for b in breakdowns):
        # A matrix question: each row folded the same way, so "other" never carries one
        # group's own per-row counts.
        slugs = list(dict.fromkeys(slug for b in breakdowns for slug in (b.rows or {})))
        rows = {
            slug: _merged([b.rows[slug] for b in breakdowns if b.rows and slug in b.rows])
            for slug in slugs
        }
    return breakdowns[0].model_copy(
        update={
            "answered": answered,
            "counts": {k: counts[k] for k in keys},
            "percentages": {k: _percent(counts[k], answered) for k in keys},
            "grouped": grouped,
            "rows": rows,
            "suppressed": True,
        }
    )


def _fold(groups: dict[str, Breakdown], folded: set[str]) -> dict[str, Breakdown]:
    if not folded:
        return groups
    kept = {k: b for k, b in groups.items() if k not in folded}
    kept[OTHER] = _merged([groups[k] for k in groups if k in folded])
    return kept


def withhold(result: Aggregate) -> None:
    """Counts only: the number of respondents, nothing they answered."""
    result.withheld = True
    result.regions = {}
    result.networks = {
        k: n.model_copy(update={"respondents": 0, "response_rate": None})
        for k, n in result.networks.items()
    }
    for q in result.questions:
        empty = {k: 0 for k in q.counts}
        q.answered, q.counts, q.percentages = 0, empty, dict.fromkeys(q.counts, 0.0)
        q.grouped = None
        q.by_network, q.by_region, q.differences, q.themes, q.comments = {}, {}, [], [], 0


def suppress_small_groups(result: Aggregate, min_group: int, differences: Differences) -> Aggregate:
    """Apply the minimum group size to an anonymous consultation's aggregate, in place;
    `differences` names the material differences between the groups still shown."""
    if not result.consultation.anonymous or min_group <= 1:
        return result
    result.min_group = min_group
    if result.respondents < min_group:
        withhold(result)
        return result
    regions = groups_to_fold({k: r.respondents for k, r in result.regions.items()}, min_group)
    networks = groups_to_fold({k: n.respondents for k, n in result.networks.items()}, min_group)
    if regions:
        kept_regions = {k: r for k, r in result.regions.items() if k not in regions}
        first = result.regions[next(iter(regions))]
        kept_regions[OTHER] = first.model_copy(
            update={
                "name": OTHER_REGIONS,
                "respondents": sum(result.regions[k].respondents for k in regions),
                "suppressed": True,
            }
        )
        result.regions = kept_regions
    if networks:
        kept_networks = {k: n for k, n in result.networks.items() if k not in networks}
        first_network = result.networks[next(iter(networks))]
        kept_networks[OTHER] = first_network.model_copy(
            update={
                "name": OTHER_NETWORKS,
                "members": sum(result.networks[k].members for k in networks),
                "respondents": sum(result.networks[k].respondents for k in networks),
                "response_rate": None,
                "suppressed": True,
            }
        )
        result.networks = kept_networks
    for q in result.questions:
        _suppress_question(q, regions, networks, differences)
    return result


def _suppress_question(
    q: QuestionAggregate, regions: set[str], networks: set[str], differences: Differences
) -> None:
    q.by_region = _fold(q.by_region, regions)
    q.by_network = _fold(q.by_network, networks)
    if q.kind == "stance" and (regions or networks):
        # Named differences only between groups shown on their own, never "other".
        q.differences = differences(
            "network", {k: b for k, b in q.by_network.items() if k != OTHER}
        ) + differences("region", {k: b for k, b in q.by_region.items() if k != OTHER})


def coarsen(people: Mapping[K, tuple[str, str]], min_group: int) -> dict[K, tuple[str, str]]:
    """Each respondent's (networks, region) as the answer sheet may show it: as it is where at
    least `min_group` respondents share it; else the region, then the networks too, become
    "other"; if some combination is still below the minimum, both columns are "other" for
    everyone."""
    shown = dict(people)
    if not shown or min_group <= 1:
        return shown
    for part in (1, 0):  # the region first (coarser groups), then the networks
        combos = Counter(shown.values())
        for person, combo in shown.items():
            if combos[combo] < min_group:
                shown[person] = (OTHER, combo[1]) if part == 0 else (combo[0], OTHER)
    combos = Counter(shown.values())
    if any(n < min_group for n in combos.values()):
        return dict.fromkeys(shown, (OTHER, OTHER))
    return shown
