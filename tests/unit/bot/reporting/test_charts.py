"""Charts render to sane PNGs, including for empty rows and long labels."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from bot.reporting.charts import choice_chart, stance_chart

PNG = b"\x89PNG\r\n\x1a\n"


def size(png: bytes) -> tuple[int, int]:
    assert png.startswith(PNG)
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return image.size


COUNTS = {"strongly_agree": 5, "agree": 20, "undecided": 8, "disagree": 5, "strongly_disagree": 2}


def test_stance_chart_png_and_size() -> None:
    rows = [
        ("All respondents", COUNTS),
        ("ICS Network", {"agree": 50.0, "undecided": 25.0, "disagree": 25.0}),
        ("North West", {"strongly_agree": 1, "strongly_disagree": 1}),
    ]
    width, height = size(stance_chart("Do you agree?", rows))
    assert width == 1200  # 8 inches at 150 dpi
    assert 300 <= height <= 600
    # more rows -> taller chart
    _, taller = size(stance_chart("Do you agree?", rows * 4))
    assert taller > height


def test_stance_chart_zero_rows_and_long_labels() -> None:
    rows = [
        ("All respondents", dict.fromkeys(COUNTS, 0)),
        ("A region with an exceptionally long name that must wrap " * 2, {}),
        ("London and East", {"agree": 3}),
    ]
    title = "Do you agree that " + "integrated care systems should be statutory " * 5 + "?"
    width, height = size(stance_chart(title, rows))
    assert width == 1200 and 300 <= height <= 1200


def test_stance_chart_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        stance_chart("t", [])
    with pytest.raises(ValueError):
        stance_chart("t", [("row", {"agreee": 1.0})])
    with pytest.raises(ValueError):
        stance_chart("t", [("row", {"agree": -1.0})])


def test_choice_chart_single_and_grouped() -> None:
    options = [
        ("A voluntary partnerships approach", 22.5),
        ("A middle way approach", 50.0),
        ("Statutory integrated authorities", 27.5),
    ]
    width, height = size(choice_chart("Which approach do you favour?", options))
    assert width == 1200 and 200 <= height <= 600
    grouped = choice_chart(
        "Which approach do you favour, by network?",
        options,
        by_group=[("ICS Network", [20.0, 50.0, 30.0]), ("Mental Health Network", [0, 100, 0])],
    )
    g_width, g_height = size(grouped)
    assert g_width == 1200 and g_height > height


def test_choice_chart_zeros_and_long_labels() -> None:
    options = [("An option whose label goes on and on and on " * 3, 0.0), ("Other", 0.0)]
    width, height = size(choice_chart("Nobody answered " * 10, options))
    assert width == 1200 and height > 0


def test_choice_chart_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        choice_chart("t", [])
    with pytest.raises(ValueError):
        choice_chart("t", [("a", 120.0)])
    with pytest.raises(ValueError):
        choice_chart("t", [("a", 50.0)], by_group=[("g", [1.0, 2.0])])


def test_thread_safe_rendering() -> None:
    rows = [("All respondents", COUNTS)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        images = list(pool.map(lambda _: stance_chart("Concurrent", rows), range(8)))
    assert all(img.startswith(PNG) for img in images)
    assert len({size(img) for img in images}) == 1
