"""Filters: None means everyone, an empty set of regions means no one, on every path."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bot.reporting.aggregation import aggregate
from bot.reporting.exports import write_export
from bot.reporting.scope import Filters
from storage.db import Database
from tests.unit.bot.reporting.test_aggregation import poll


def test_no_filter_is_none_and_regions_are_one_frozen_type() -> None:
    assert Filters().everyone and not Filters().active
    assert Filters(regions=["london", "north-west"]) == Filters(
        regions=frozenset({"north-west", "london"})
    )
    assert Filters(regions=frozenset()).active  # an empty set still narrows
    assert Filters(regions=frozenset()).chosen_regions() == []
    assert Filters(region="london", regions={"london", "north-west"}).chosen_regions() == ["london"]
    assert Filters(network="ics").chosen_regions() is None
    assert Filters(regions=["b", "a"]).describe() == {
        "region": None,
        "network": None,
        "regions": ["a", "b"],
    }


async def test_an_empty_set_of_regions_counts_no_one_in_figures_rows_and_draft(
    db: Database, tmp_path: Path
) -> None:
    await poll(db)
    nobody = Filters(regions=frozenset())
    everyone = await aggregate(db, "poll")
    assert everyone.respondents == 40

    figures = await aggregate(db, "poll", filters=nobody)
    assert figures.respondents == 0
    assert figures.to_export_json()["filters"]["regions"] == []

    (csv_path,) = await write_export(db, "poll", "csv", tmp_path / "r.csv", filters=nobody)
    rows = list(csv.DictReader(io.StringIO(csv_path.read_bytes().decode("utf-8-sig"))))
    assert rows == []

    (md_path, *_) = await write_export(db, "poll", "md", tmp_path / "d.md", filters=nobody)
    draft = md_path.read_text()
    assert "respondents in no region" in draft
    assert "40 members responded" not in draft
