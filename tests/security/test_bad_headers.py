"""Finding 4: a malformed X-Slack-Request-Timestamp or X-Slack-Signature is refused with 401,
without a traceback in the log."""

from __future__ import annotations

import logging
import time

import aiohttp
import pytest

from bot.demo.sandbox.harness import Harness


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        ("abc", "v0=00"),
        ("", "v0=00"),
        ("1e9", "v0=00"),
        ("99999999999999999999999999", "v0=00"),
        (str(int(time.time())), "v0=\u00e9\u00e9"),
    ],
)
async def test_malformed_signature_headers_get_401_without_a_traceback(
    harness: Harness, caplog: pytest.LogCaptureFixture, timestamp: str, signature: str
) -> None:
    assert harness.runtime is not None and harness.runtime.server is not None
    url = f"{harness.runtime.server.url}/slack/events"
    with caplog.at_level(logging.INFO):
        async with aiohttp.ClientSession() as session:
            async with session.post(
                url,
                data=b"command=%2Fconsult&text=list&user_id=U01STAFF01",
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Slack-Request-Timestamp": timestamp,
                    "X-Slack-Signature": signature,
                },
            ) as response:
                assert response.status == 401
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
