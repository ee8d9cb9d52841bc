"""The request log's outcome: what an operator reads to tell a refusal from a failure."""

from __future__ import annotations

import json

from slack_bolt.response import BoltResponse

from bot.app.bolt import outcome_of


def test_an_ack_is_ok_and_field_errors_are_invalid() -> None:
    assert outcome_of(BoltResponse(status=200, body="")) == "ok"
    errors = json.dumps({"response_action": "errors", "errors": {"q": "Please choose."}})
    assert outcome_of(BoltResponse(status=200, body=errors)) == "invalid"
    update = json.dumps({"response_action": "update", "view": {}})
    assert outcome_of(BoltResponse(status=200, body=update)) == "ok"


def test_refusals_and_failures_are_told_apart() -> None:
    assert outcome_of(BoltResponse(status=401, body="")) == "refused"
    assert outcome_of(BoltResponse(status=500, body="")) == "error"
    assert outcome_of(None) == "error"  # the dispatch raised


def test_nul_characters_are_taken_out_of_every_string_of_a_payload() -> None:
    from bot.app.bolt import drop_nul_characters

    body = {
        "text": "ask ic Why\x00?",
        "view": {"state": {"values": {"b\x00": {"a": {"value": "x\x00y"}}}}},
        "list": ["\x00", 3, None],
    }
    assert drop_nul_characters(body) is body  # cleaned in place: Bolt's listeners get this dict
    assert body == {
        "text": "ask ic Why?",
        "view": {"state": {"values": {"b": {"a": {"value": "xy"}}}}},
        "list": ["", 3, None],
    }
