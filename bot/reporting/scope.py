"""Whose answers a report counts: the one `Filters` type used by aggregation, the exports, the
draft, the summaries, the CLI's `--region/--network` and `/consult export`/`summary`.

"No filter" has one meaning everywhere: a field that is None does not narrow anything. A field
that is given always narrows, so an *empty* set of regions means nobody: a regional lead whose
regions are not known (or who asked for a region outside them) sees no one's answers, never
everyone's. Respondents with no region are selected with the region "unknown".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

#: The region id of respondents whose region is not known (no region recorded).
UNKNOWN_REGION = "unknown"


@dataclass(frozen=True)
class Filters:
    """Whose answers to count: one region, one network, and/or a regional lead's regions.

    Every given field narrows the scope (they combine with AND); None leaves it open.
    """

    region: str | None = None
    network: str | None = None
    regions: frozenset[str] | None = None

    def __post_init__(self) -> None:
        # Accept any iterable of region ids (a list from the CLI, a set from the permissions)
        # but keep one frozen type, so two equal scopes compare and hash equal.
        if self.regions is not None and not isinstance(self.regions, frozenset):
            object.__setattr__(self, "regions", frozenset(self._as_iterable(self.regions)))

    @staticmethod
    def _as_iterable(value: Any) -> Iterable[str]:
        if isinstance(value, str):
            return (value,)
        return value  # type: ignore[no-any-return]

    @property
    def everyone(self) -> bool:
        """True when nothing narrows the scope."""
        return self.region is None and self.network is None and self.regions is None

    @property
    def active(self) -> bool:
        return not self.everyone

    @property
    def by_region(self) -> bool:
        """True when the scope is narrowed to some regions (then network sizes, which are not
        split by region, give no response rate)."""
        return self.region is not None or self.regions is not None

    def describe(self) -> dict[str, Any]:
        """The scope as the export JSON's `filters` object."""
        return {
            "region": self.region,
            "network": self.network,
            "regions": sorted(self.regions) if self.regions is not None else None,
        }

    def chosen_regions(self) -> list[str] | None:
        """The regions named by the scope (None: not narrowed by region; [] : nobody)."""
        if self.region is None and self.regions is None:
            return None
        chosen = set(self.regions) if self.regions is not None else {self.region}
        if self.region is not None and self.regions is not None:
            chosen &= {self.region}
        return sorted(r for r in chosen if r is not None)
