"""A view's private_metadata comes back from Slack inside the submission, so it can be forged.
JSON nested in that string hides an escaped NUL ("\\u0000") from the payload's own NUL cleaning;
decoded, it reached a PostgreSQL query, which refused it: the member got "not saved" and the
log a traceback. Such metadata is refused like any other that is not ours."""

from __future__ import annotations

import logging

import pytest
from sqlmodel import select

from bot.answering.blocks.modal import ModalContext
from bot.demo.sandbox.harness import Harness
from storage.models import InboxSubmission, Response
from tests.scenarios.test_answering import MEMBER, launched_form, stance_values


async def test_a_nul_nested_in_the_metadata_is_refused_without_a_traceback(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    view = await launched_form(harness, "ic-meta")
    assert harness.driver is not None
    forged = {**view, "private_metadata": ModalContext("ic-meta\x00", "C0ICSNET").dumps()}
    assert "\\u0000" in forged["private_metadata"]  # as JSON carries it
    with caplog.at_level(logging.INFO):
        response = await harness.driver.submit_view(MEMBER, forged, stance_values(view, "agree"))
    assert response.status == 200 and response.json is not None
    assert response.json["response_action"] == "update"
    shown = str(response.json["view"])
    assert "out of date" in shown and "Not saved" not in shown
    assert not [r for r in caplog.records if r.exc_info]
    await harness.settle()
    async with harness.services.db.session() as session:
        assert not (await session.exec(select(InboxSubmission))).all()
        assert not (await session.exec(select(Response))).all()
