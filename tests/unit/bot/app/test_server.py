"""GET /healthz says whether the database and the scheduler work; POST /slack/events refuses
what is not a signed Slack request before anything parses it."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app.bolt import NUL_FREE, build_app
from bot.app.runtime import prepare_database
from bot.app.server import make_web_app, to_bolt_request
from bot.app.wiring import subcommands
from bot.core.services import Services
from bot.core.settings import Settings
from bot.demo.sandbox.driver import compute_signature
from storage.db import Database
from storage.models import utcnow
from tests.conftest import wired_services

SECRET = "unit-signing-secret"


class FakeScheduler:
    """APScheduler 3.x's state attribute, and nothing else."""

    def __init__(self, running: bool, *, paused: bool = False) -> None:
        from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING, STATE_STOPPED

        self.state = STATE_PAUSED if paused else STATE_RUNNING if running else STATE_STOPPED


def services_for(url: str) -> Services:
    return wired_services(
        Database(url), Settings(SLACK_BOT_TOKEN="xoxb-unit", SLACK_SIGNING_SECRET=SECRET)
    )


async def client_for(services: Services) -> TestClient:
    app = build_app(services, subcommands(), signing_secret=SECRET)
    client = TestClient(TestServer(make_web_app(app, services, signing_secret=SECRET)))
    await client.start_server()
    return client


@pytest.fixture
async def healthy(tmp_path: Path) -> AsyncIterator[TestClient]:
    services = services_for(f"sqlite+aiosqlite:///{tmp_path / 'health.db'}")
    await prepare_database(services.db)
    services.scheduler = FakeScheduler(running=True)
    client = await client_for(services)
    try:
        yield client
    finally:
        await client.close()
        await services.db.dispose()


async def test_healthz_reports_database_outbox_and_scheduler(healthy: TestClient) -> None:
    response = await healthy.get("/healthz")
    assert response.status == 200
    report = await response.json()
    assert report["status"] == "ok"
    assert report["database"] == "ok"
    assert report["scheduler"] == "running"
    assert report["ticks"] == "none finished yet"
    assert report["outbox"] == {}
    assert report["inbox"] == 0
    assert report["outbox_worker"] == "not started"


async def test_healthz_is_503_when_the_database_is_down() -> None:
    # Nothing listens on port 1: every connection attempt is refused at once.
    services = services_for("postgresql+asyncpg://postgres@127.0.0.1:1/consultbot")
    services.scheduler = FakeScheduler(running=True)
    client = await client_for(services)
    try:
        response = await client.get("/healthz")
        assert response.status == 503
        report = await response.json()
        assert report["status"] == "unhealthy"
        assert report["database"].startswith("unavailable: ")
        assert "127.0.0.1" not in report["database"]  # no connection details in the answer
    finally:
        await client.close()
        await services.db.dispose()


async def health_with(
    tmp_path: Path, scheduler: FakeScheduler, last_tick: timedelta | None
) -> tuple[int, dict[str, Any]]:
    """GET /healthz of a bot whose scheduler is `scheduler` and whose last tick finished
    `last_tick` ago (None: none yet)."""
    services = services_for(f"sqlite+aiosqlite:///{tmp_path / 'health.db'}")
    await prepare_database(services.db)
    services.scheduler = scheduler
    if last_tick is not None:
        services.last_tick = utcnow() - last_tick
    client = await client_for(services)
    try:
        response = await client.get("/healthz")
        return response.status, await response.json()
    finally:
        await client.close()
        await services.db.dispose()


async def test_healthz_is_503_when_the_scheduler_is_paused(tmp_path: Path) -> None:
    status, report = await health_with(tmp_path, FakeScheduler(running=True, paused=True), None)
    assert (status, report["scheduler"]) == (503, "paused")


async def test_healthz_is_503_when_no_tick_has_finished_for_ten_minutes(tmp_path: Path) -> None:
    """A stuck tick: with one at a time, no deadline closes and no reminder goes out."""
    status, report = await health_with(tmp_path, FakeScheduler(running=True), timedelta(minutes=11))
    assert status == 503
    assert report["scheduler"] == "running"
    assert report["ticks"].startswith("stalled: last finished 660")


async def test_healthz_reports_a_recent_tick_as_healthy(tmp_path: Path) -> None:
    status, report = await health_with(tmp_path, FakeScheduler(running=True), timedelta(seconds=3))
    assert status == 200
    assert report["ticks"].startswith("last finished 3.")


async def test_healthz_is_503_when_the_scheduler_stopped(tmp_path: Path) -> None:
    services = services_for(f"sqlite+aiosqlite:///{tmp_path / 'health.db'}")
    await prepare_database(services.db)
    services.scheduler = FakeScheduler(running=False)
    client = await client_for(services)
    try:
        response = await client.get("/healthz")
        assert response.status == 503
        assert (await response.json())["scheduler"] == "stopped"
    finally:
        await client.close()
        await services.db.dispose()


def signed(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": compute_signature(secret, ts, body),
    }


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"payload=%7B%7D", {"Content-Type": "application/x-www-form-urlencoded"}, 401),
        (b"payload=%7B%7D", signed(b"payload=%7B%7D", secret="not-the-secret"), 401),
        (b"payload=%7B%7D", signed(b"payload=%7B%7D", timestamp=1_000_000_000), 401),
        (b"\xff\xfe\x00garbage", signed(b"\xff\xfe\x00garbage"), 400),
    ],
    ids=["unsigned", "wrong-secret", "stale-timestamp", "not-utf8"],
)
async def test_events_refuses_unsigned_stale_and_undecodable_requests(
    healthy: TestClient, body: bytes, headers: dict[str, str], status: int
) -> None:
    response = await healthy.post("/slack/events", data=body, headers=headers)
    assert response.status == status


async def test_events_refuses_oversized_bodies_with_413(healthy: TestClient) -> None:
    body = b"payload=" + b"x" * (1024 * 1024 + 1)
    response = await healthy.post("/slack/events", data=body, headers=signed(body))
    assert response.status == 413


# --- the interactive payload decoded with yarl gives exactly what Bolt's own parse gives ---

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def read(raw: str, headers: dict[str, str], *, ours: bool) -> object:
    """Body, context and raw body Bolt sees, or the kind of error (the server answers 400)."""
    try:
        if ours:
            request = to_bolt_request(raw, "", headers)
        else:
            request = AsyncBoltRequest(body=raw, query="", headers=headers)  # type: ignore[arg-type]
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        return type(exc).__name__
    context = dict(request.context) if isinstance(request.body, dict) else None
    if context is not None:
        context.pop(NUL_FREE, None)  # ours alone: see the NUL tests below
    return request.body, context, request.raw_body


@settings(max_examples=300, deadline=None)
@given(
    payload=st.fixed_dictionaries(
        {"type": st.sampled_from(["block_actions", "view_submission"]), "user": json_values},
        optional={"view": json_values, "actions": json_values, "team": json_values},
    ),
    ensure_ascii=st.booleans(),
)
def test_a_submission_is_read_as_bolt_reads_it(payload: dict[str, Any], ensure_ascii: bool) -> None:
    raw = urlencode({"payload": json.dumps(payload, ensure_ascii=ensure_ascii)})
    assert read(raw, FORM, ours=True) == read(raw, FORM, ours=False)


def test_a_real_submission_keeps_its_text_and_user() -> None:
    comment = "R&D = 5+3; 100% sure <!channel> café ☃"
    payload = {"type": "view_submission", "user": {"id": "U1"}, "view": {"c": comment}}
    raw = urlencode({"payload": json.dumps(payload, ensure_ascii=False)})
    request = to_bolt_request(raw, "", FORM)
    assert request.body["view"]["c"] == comment and request.context.user_id == "U1"
    assert read(raw, FORM, ours=True) == read(raw, FORM, ours=False)


@settings(max_examples=300, deadline=None)
@given(raw=st.text(alphabet=st.sampled_from('payload=%+&;{}[]":,aZ09E2A8\\ \n.~*-_')))
def test_any_form_body_is_read_as_bolt_reads_it_or_refused_alike(raw: str) -> None:
    assert read(raw, FORM, ours=True) == read(raw, FORM, ours=False)


# --- NUL characters: a payload is marked free of them only when it is ---------------------

nul_texts = st.text(alphabet=st.sampled_from(["\x00", "a", "\\", "u", "0", "é", '"']), max_size=8)
nul_values = st.recursive(
    st.none() | st.integers() | nul_texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nul_texts, inner, max_size=3),
    max_leaves=12,
)


def holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    return False


@settings(max_examples=300, deadline=None)
@given(
    view=nul_values,
    ensure_ascii=st.booleans(),
    spelling=st.sampled_from(["as slack sends it", "every character percent-encoded"]),
)
def test_a_payload_is_marked_free_of_nul_only_when_it_is(
    view: object, ensure_ascii: bool, spelling: str
) -> None:
    """The mark lets the dispatch skip its walk over every string: it must never be set on a
    payload that holds a NUL, however the form spells the JSON escape."""
    text = json.dumps({"type": "view_submission", "view": view}, ensure_ascii=ensure_ascii)
    if spelling == "as slack sends it":
        raw = urlencode({"payload": text})
    else:
        raw = "payload=" + "".join(f"%{byte:02X}" for byte in text.encode())
    request = to_bolt_request(raw, "", FORM)
    if request.context.get(NUL_FREE):
        assert not holds_nul(request.body)
    else:
        assert "\\u0000" in text


def test_a_submission_without_nul_is_marked_so_and_one_with_it_is_not() -> None:
    clean = {"type": "view_submission", "view": {"c": "Workforce first"}}
    pasted = {"type": "view_submission", "view": {"c": "Pasted\x00 from a PDF"}}
    request = to_bolt_request(urlencode({"payload": json.dumps(clean)}), "", FORM)
    assert request.context.get(NUL_FREE) is True
    request = to_bolt_request("payload=" + quote(json.dumps(pasted), safe=""), "", FORM)
    assert not request.context.get(NUL_FREE)


def test_slash_commands_and_json_events_go_through_bolts_own_parse() -> None:
    command = "command=%2Fconsult&text=status+abc&user_id=U1"
    assert to_bolt_request(command, "", FORM).body["text"] == "status abc"
    event = json.dumps({"type": "event_callback", "event": {"type": "app_home_opened"}})
    body = to_bolt_request(event, "", {"Content-Type": "application/json"}).body
    assert body["event"]["type"] == "app_home_opened"
