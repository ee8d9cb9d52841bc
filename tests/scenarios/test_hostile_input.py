"""Hostile input to POST /slack/events: malformed and oversized bodies, wrong content types,
unknown action ids, forged user ids with valid signatures, submissions for consultations that do
not exist. Never a 5xx, never a crash, never a stored answer that should not be.

Hypothesis drives a synchronous test; the bot runs on its own event loop in a thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import func, select

from bot.answering.blocks.home import HOME_CLOSE_ACTION, HOME_LAUNCH_ACTION
from bot.answering.blocks.modal import ModalContext
from bot.answering.blocks.receipt import EDIT_ACTION
from bot.consultations.blocks.posts import RESPOND_ACTION
from bot.demo.sandbox.harness import Harness
from bot.engagement.blocks import STOP_REMINDERS_ACTION
from bot.reporting.blocks import SHARE_ACTION
from storage.models import Response
from tests.scenarios.test_answering import CHANNELS, launch, post_in, stance_values

T = TypeVar("T")
OUTSIDERS = st.from_regex(r"U0X[A-Z0-9]{6}", fullmatch=True)  # in no network channel
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=xyz",
        "application/octet-stream",
        "",
    ]
)


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def summary(self) -> list[str]:
        return [f"{r.name}: {r.getMessage()}" for r in self.records]


class Bot:
    """A harness on its own loop in a thread, so synchronous hypothesis tests can drive it."""

    def __init__(self, database_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.h = Harness(database_url)
        self.run(self._start())
        # Every record at ERROR or above from here on: a listener that crashed on a payload
        # still answers Slack 200 (bot.app.bolt's error handler), so the log is where it shows.
        self.errors = ErrorRecords()
        logging.getLogger().addHandler(self.errors)

    async def _start(self) -> None:
        await self.h.start()
        await self.h.load_examples()
        from bot.demo.sandbox.harness import EXAMPLES
        from storage.models import utcnow

        await self.h.add_consultation_file(
            EXAMPLES / "integrating-care.yaml",
            id="ic-hostile",
            deadline=utcnow() + __import__("datetime").timedelta(days=10),
        )
        await launch(self.h, "ic-hostile")
        assert self.h.driver is not None
        self.view = await self.h.driver.open_modal_via(
            "U0M001", "respond", message=post_in(self.h, CHANNELS[0])
        )

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def stop(self) -> None:
        logging.getLogger().removeHandler(self.errors)
        self.run(self.h.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    def post(self, body: bytes, content_type: str, *, sign: bool = True) -> int:
        assert self.h.driver is not None
        headers = {"Content-Type": content_type} if content_type else {}
        response = self.run(self.h.driver.post_raw(body, headers, sign=sign))
        return response.status

    def stored(self) -> int:
        async def count() -> int:
            async with self.h.services.db.session() as session:
                return (await session.exec(select(func.count()).select_from(Response))).one()

        return self.run(count())

    def healthy(self) -> bool:
        import aiohttp

        assert self.h.runtime is not None and self.h.runtime.server is not None
        url = f"{self.h.runtime.server.url}/healthz"

        async def get() -> int:
            async with aiohttp.ClientSession() as session, session.get(url) as resp:
                return resp.status

        return self.run(get()) == 200


@pytest.fixture
def bot(database_url: str) -> Iterator[Bot]:
    running = Bot(database_url)
    try:
        yield running
    finally:
        running.stop()


FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def form(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def hostile_bodies(view: dict[str, Any]) -> st.SearchStrategy[tuple[bytes, str]]:
    """(body, content type) of every kind the fuzzer sends, all with a valid signature."""
    raw = st.tuples(st.binary(max_size=400), CONTENT_TYPES)
    text = st.tuples(st.text(max_size=400).map(str.encode), CONTENT_TYPES)
    broken_json = st.tuples(
        st.text(max_size=200).map(lambda t: urlencode({"payload": "{" + t}).encode()),
        st.just("application/x-www-form-urlencoded"),
    )
    odd_payloads = st.tuples(json_values.map(form), CONTENT_TYPES)
    odd_typed = st.tuples(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(
                    [
                        "block_actions",
                        "view_submission",
                        "event_callback",
                        "shortcut",
                        "view_closed",
                        "url_verification",
                    ]
                )
            },
            optional={
                "user": json_values,
                "view": json_values,
                "actions": json_values,
                "event": json_values,
                "team": json_values,
            },
        ).map(form),
        st.just("application/x-www-form-urlencoded"),
    )
    unknown_actions = st.tuples(
        st.builds(
            lambda action_id, value, user: form(
                {
                    "type": "block_actions",
                    "user": {"id": user},
                    "team": {"id": "T0SANDBOX"},
                    "api_app_id": "A0SANDBOX",
                    "trigger_id": "1.2.3",
                    "actions": [{"action_id": action_id, "value": value, "type": "button"}],
                }
            ),
            st.text(max_size=40),
            st.text(max_size=40),
            OUTSIDERS,
        ),
        st.just("application/x-www-form-urlencoded"),
    )

    # Events API bodies are JSON: every field of an event may come in any shape.
    odd_events = st.tuples(
        st.builds(
            lambda kind, event, event_id: json.dumps(
                {
                    "type": "event_callback",
                    "team_id": "T0SANDBOX",
                    "api_app_id": "A0SANDBOX",
                    "event_id": event_id,
                    "event_time": 1,
                    "event": {"type": kind, **event},
                }
            ).encode(),
            st.sampled_from(["app_home_opened", "message", "member_joined_channel", "nope"]),
            st.dictionaries(
                st.sampled_from(["user", "tab", "channel", "view", "event_ts"]),
                json_values,
                max_size=4,
            ),
            json_values,
        ),
        st.just("application/json"),
    )
    # The bot's own buttons, clicked by people outside every network (or no one), with any
    # value: nothing may open, close, launch, share or stop for them.
    known_actions = st.tuples(
        st.builds(
            lambda action_id, value, user, container: form(
                {
                    "type": "block_actions",
                    "user": {"id": user},
                    "team": {"id": "T0SANDBOX"},
                    "api_app_id": "A0SANDBOX",
                    "trigger_id": "1.2.3",
                    "container": container,
                    "actions": [
                        {"action_id": action_id, "value": value, "type": "button", "action_ts": "1"}
                    ],
                }
            ),
            st.sampled_from(
                [
                    RESPOND_ACTION,
                    EDIT_ACTION,
                    SHARE_ACTION,
                    HOME_LAUNCH_ACTION,
                    HOME_CLOSE_ACTION,
                    STOP_REMINDERS_ACTION,
                ]
            ),
            st.sampled_from(["ic-hostile", '{"c": "ic-hostile"}', '{"c": 1, "r": []}'])
            | st.text(max_size=40),
            OUTSIDERS,
            json_values,
        ),
        st.just("application/x-www-form-urlencoded"),
    )

    def submission(user: str, consultation: str | None, stance: str, comment: str) -> bytes:
        sent = dict(view)
        if consultation is not None:
            sent["private_metadata"] = ModalContext(consultation, channel_id=CHANNELS[0]).dumps()
        from bot.demo.sandbox.driver import build_state_values

        sent["state"] = {"values": build_state_values(view, stance_values(view, stance, comment))}
        sent["id"] = f"V0F{abs(hash((user, consultation, comment))) % 10**8}"
        return form(
            {
                "type": "view_submission",
                "user": {"id": user, "name": "forged"},
                "team": {"id": "T0SANDBOX"},
                "api_app_id": "A0SANDBOX",
                "view": sent,
            }
        )

    forged = st.tuples(
        st.builds(
            submission,
            OUTSIDERS,
            st.none(),  # the real consultation, as the modal carries it
            st.sampled_from(["agree", "disagree"]),
            st.text(max_size=100),
        ),
        st.just("application/x-www-form-urlencoded"),
    )
    missing = st.tuples(
        st.builds(
            submission,
            st.sampled_from(["U0M001", "U0M002"]),  # real members
            st.text(min_size=1, max_size=60).filter(lambda c: c != "ic-hostile"),
            st.sampled_from(["agree", "disagree"]),
            st.text(max_size=100),
        ),
        st.just("application/x-www-form-urlencoded"),
    )
    return st.one_of(
        raw,
        text,
        broken_json,
        odd_payloads,
        odd_typed,
        odd_events,
        unknown_actions,
        known_actions,
        forged,
        missing,
    )


def test_hostile_requests_never_get_a_5xx_or_store_an_answer(bot: Bot) -> None:
    @FUZZ
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        body, content_type = data.draw(hostile_bodies(bot.view))
        status = bot.post(body, content_type)
        assert status < 500, (status, body[:200])

    fuzz()
    # Shapes the fuzzer has found before, kept so they are tried on every run.
    for payload in (
        {"type": "block_actions", "user": None, "team": None, "view": None, "actions": []},
        {"type": "block_actions", "actions": None},
        {"type": "shortcut", "view": None},  # no listener takes it: Bolt's warning read view
        {"view": None},
    ):
        status = bot.post(form(payload), "application/x-www-form-urlencoded")
        assert status < 500, (status, payload)
    # An event's user in other shapes, or one Slack does not know (views.publish refuses it).
    for user in ({"id": "U0M001"}, ["U0M001"], 7, "U0NOBODY"):
        event = {"type": "app_home_opened", "user": user, "tab": "home"}
        body = {"type": "event_callback", "team_id": "T0SANDBOX", "event": event}
        assert bot.post(json.dumps(body).encode(), "application/json") < 500
    # Oversized, and unsigned garbage: refused before anything parses them.
    assert (
        bot.post(b"payload=" + b"x" * (1024 * 1024 + 10), "application/x-www-form-urlencoded")
        == 413
    )
    assert bot.post(b"payload=%7B%7D", "application/x-www-form-urlencoded", sign=False) == 401
    assert bot.post(b"\x00\xff" * 50, "application/json", sign=False) in (400, 401)
    bot.run(bot.h.settle())  # anything accepted would be recorded by now
    assert bot.stored() == 0
    assert bot.errors.summary() == []  # no listener crashed on any of it
    assert bot.healthy()
    # And the bot still works for a real member.
    assert bot.h.driver is not None
    response = bot.run(
        bot.h.driver.submit_view("U0M001", bot.view, stance_values(bot.view, "agree"))
    )
    assert response.status == 200
    bot.run(bot.h.settle())  # recorded just after the ack, from the inbox
    assert bot.stored() == 1  # still open: no forged Close now took effect
