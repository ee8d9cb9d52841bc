"""private_metadata is read back only when it is a JSON object of ours (no NUL hidden in it)."""

from __future__ import annotations

import json

from bot.slack.blocks import read_private_metadata


def test_our_metadata_is_read_back() -> None:
    assert read_private_metadata(json.dumps({"c": "ic", "tz": "Europe/London"})) == {
        "c": "ic",
        "tz": "Europe/London",
    }


def test_what_is_not_a_json_object_is_refused() -> None:
    for raw in (None, "", "{", "[1]", "7", 7, {"c": "ic"}):
        assert read_private_metadata(raw) is None


def test_an_escaped_nul_is_refused_and_an_escaped_backslash_is_not_mistaken_for_one() -> None:
    assert read_private_metadata(json.dumps({"c": "ic\x00"})) is None
    assert read_private_metadata(json.dumps({"c": "a\\b"})) == {"c": "a\\b"}
