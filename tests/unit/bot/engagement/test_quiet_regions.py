"""Which regions are quiet enough for their leads to hear of it."""

from __future__ import annotations

from bot.engagement.escalation import quiet_regions

REGIONS = {
    "a1": "london",
    "a2": "london",
    "a3": "london",
    "b1": "north-west",
    "b2": "north-west",
    "b3": "north-west",
    "b4": "north-west",
    "c1": "south-east",
    "x1": None,  # told us no region: counted for none
}


def test_regions_below_the_threshold_are_quiet_with_who_has_not_answered() -> None:
    quiet = quiet_regions(
        REGIONS, REGIONS, {"b1", "b2", "a1"}, threshold=0.4, anonymous=False, min_group=5
    )
    assert [q.region_id for q in quiet] == ["london", "south-east"]  # north-west is at 50%
    london = quiet[0]
    assert (london.answered, london.members, london.not_answered) == (1, 3, ["a2", "a3"])


def test_anonymous_regions_smaller_than_the_minimum_group_are_never_reported() -> None:
    quiet = quiet_regions(REGIONS, REGIONS, set(), threshold=0.3, anonymous=True, min_group=4)
    assert [q.region_id for q in quiet] == ["north-west"]


def test_a_region_at_the_threshold_is_not_quiet() -> None:
    quiet = quiet_regions(
        REGIONS, REGIONS, {"b1", "b2"}, threshold=0.5, anonymous=False, min_group=1
    )
    assert "north-west" not in [q.region_id for q in quiet]
