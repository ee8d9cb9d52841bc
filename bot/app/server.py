"""HTTP mode: `POST /slack/events` for Slack, `GET /healthz` for load balancers, `GET /metrics`
for Prometheus."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from yarl import URL

from bot.answering.inbox import backlog as inbox_backlog
from bot.answering.inbox import backlog_by_state as inbox_by_state
from bot.app.bolt import NUL_FREE
from bot.core.services import Services
from bot.delivery.metrics import CONTENT_TYPE
from bot.delivery.outbox import backlog
from storage.models import utcnow

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; refuse anything bigger with 413.

# How Slack sends interactivity (buttons, modal submissions): one form field of urlencoded JSON.
INTERACTIVE_FORM = re.compile(r"payload=[\w%+.~*\-]*", re.ASCII)


def to_bolt_request(raw: str, query: str, headers: Mapping[str, str]) -> AsyncBoltRequest:
    """The request Bolt would build from `raw`, with an interactive payload decoded faster.

    Bolt decodes the form with urllib's pure-Python unquote: about 1 ms for a 12 KB modal
    submission, a third of what a submission costs us in a rush. yarl (aiohttp's URL library)
    decodes the same form in C and gives the same text (tests/unit/bot/app/test_server.py proves it).
    Bolt still checks the signature over the raw body."""
    interactive = headers.get("Content-Type", "").startswith(
        "application/x-www-form-urlencoded"
    ) and INTERACTIVE_FORM.fullmatch(raw)
    if not interactive:
        return AsyncBoltRequest(body=raw, query=query, headers=headers)  # type: ignore[arg-type]
    request = AsyncBoltRequest(body="", query=query, headers=headers)  # type: ignore[arg-type]
    request.raw_body = raw
    payload = URL.build(query_string=raw, encoded=True).query["payload"]
    request.body = json.loads(payload)
    if isinstance(request.body, dict):
        request.context = build_async_context(AsyncBoltContext({}), request.body)
        if "\\u0000" not in payload:
            request.context[NUL_FREE] = True
    return request


# Objects Slack always sends as JSON objects (or null), and lists it always sends as lists of
# objects. Bolt's own middleware indexes into them before any listener could check.
_OBJECT_FIELDS = ("event", "view", "user", "team", "container", "channel", "message", "enterprise")
_LIST_OF_OBJECTS_FIELDS = ("actions",)


# Objects Bolt reads whenever the key is there, null or not (its warning about a request no
# listener takes, for one): Slack leaves the key out rather than send null.
_OBJECT_WHEN_PRESENT = ("view",)


def shape_problem(body: dict[str, Any]) -> str | None:
    """Why `body` is not shaped as Slack sends it (None if it is): refused with a 400 before
    Bolt, rather than letting Bolt's middleware fail on it."""
    for name in _OBJECT_WHEN_PRESENT:
        if name in body and not isinstance(body[name], dict):
            return f"{name} is not an object"
    for name in _OBJECT_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], dict):
            return f"{name} is not an object"
    for name in _LIST_OF_OBJECTS_FIELDS:
        value = body.get(name)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(item, dict) for item in value)
        ):
            return f"{name} is not a list of objects"
    return None


# A tick that has not finished for this long is stuck: with one tick at a time, nothing due
# (a deadline, a reminder round) would be done until the process is restarted.
TICKS_STALLED_AFTER = timedelta(minutes=10)


def scheduler_state(scheduler: Any) -> str:
    """running, paused or stopped (APScheduler 3.x's states)."""
    from apscheduler.schedulers.base import STATE_PAUSED, STATE_STOPPED

    state = getattr(scheduler, "state", STATE_STOPPED)
    return {STATE_STOPPED: "stopped", STATE_PAUSED: "paused"}.get(state, "running")


async def health(services: Services) -> tuple[bool, dict[str, Any]]:
    report: dict[str, Any] = {}
    healthy = True
    try:
        await services.db.ping()
        report["database"] = "ok"
        report["outbox"] = await backlog(services.db)
        report["inbox"] = await inbox_backlog(services.db)  # accepted, not yet recorded
    except Exception as exc:
        healthy = False
        report["database"] = f"unavailable: {type(exc).__name__}"
    now = utcnow()
    scheduler = services.scheduler
    if scheduler is not None:
        report["scheduler"] = scheduler_state(scheduler)
        healthy = healthy and report["scheduler"] == "running"
        last_tick = services.last_tick
        if last_tick is None:
            report["ticks"] = "none finished yet"
        else:
            stalled = now - last_tick > TICKS_STALLED_AFTER
            report["ticks"] = (
                f"{'stalled: ' if stalled else ''}last finished "
                f"{(now - last_tick).total_seconds():.1f}s ago"
            )
            healthy = healthy and not stalled
    last = services.outbox.last_tick
    report["outbox_worker"] = (
        f"last round {(now - last).total_seconds():.1f}s ago" if last else "not started"
    )
    return healthy, report


def signed_by_slack(verifier: SignatureVerifier, raw: str, headers: Mapping[str, str]) -> bool:
    """Is `raw` signed with our secret, recently? Any malformed header (a timestamp that is not
    a number, a signature with characters hmac cannot compare) is simply not a valid signature:
    refused with 401 before anything else, never a 500 with a traceback."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not (timestamp.isascii() and timestamp.isdigit() and signature.isascii()):
        return False
    try:
        return verifier.is_valid(raw, timestamp, signature)
    except (ValueError, TypeError, OverflowError):
        return False


OUTBOX_STATES = ("pending", "sending", "sent", "failed")


async def metrics_exposition(services: Services) -> bytes:
    """This process's metrics, with the inbox and outbox backlogs read from the database now
    (shared by every replica, so each reports the same figures)."""
    metrics = services.metrics
    try:
        inbox = await inbox_by_state(services.db)
        outbox = await backlog(services.db)
    except Exception as exc:  # the counters still say something while the database is away
        log.warning("metrics: could not read the backlogs: %s", type(exc).__name__)
    else:
        for state, count in inbox.items():
            metrics.inbox_backlog.labels(state).set(count)
        for state in {*OUTBOX_STATES, *outbox}:
            metrics.outbox_backlog.labels(state).set(outbox.get(state, 0))
    return metrics.exposition()


def make_web_app(app: AsyncApp, services: Services, *, signing_secret: str) -> web.Application:
    # Verified before parsing: Bolt parses the body first and would fail on garbage with a 500.
    verifier = SignatureVerifier(signing_secret)

    async def slack_events(request: web.Request) -> web.Response:
        try:
            raw = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            return web.json_response({"error": "body is not UTF-8"}, status=400)
        if not signed_by_slack(verifier, raw, request.headers):
            return web.json_response({"error": "invalid signature or stale timestamp"}, status=401)
        try:
            bolt_request = to_bolt_request(raw, request.query_string, request.headers)
        except (ValueError, LookupError, TypeError, AttributeError):  # broken JSON, odd shapes
            return web.json_response({"error": "malformed request body"}, status=400)
        if not isinstance(bolt_request.body, dict):  # e.g. `payload=null` or `payload=[1]`
            return web.json_response({"error": "malformed request body"}, status=400)
        problem = shape_problem(bolt_request.body)
        if problem is not None:
            return web.json_response({"error": f"malformed request body: {problem}"}, status=400)
        services.load.arrived()
        services.load.in_flight += 1
        try:
            response = await app.async_dispatch(bolt_request)
        except (LookupError, TypeError, AttributeError, ValueError):
            # Bolt's own matching chokes on shapes Slack never sends (e.g. "actions": null).
            log.info("malformed Slack payload refused", exc_info=True)
            return web.json_response({"error": "malformed request body"}, status=400)
        finally:
            services.load.in_flight -= 1
        return await to_aiohttp_response(response)

    async def healthz(_: web.Request) -> web.Response:
        healthy, report = await health(services)
        return web.json_response(
            {"status": "ok" if healthy else "unhealthy", **report}, status=200 if healthy else 503
        )

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=await metrics_exposition(services), headers={"Content-Type": CONTENT_TYPE}
        )

    web_app = web.Application(client_max_size=MAX_BODY)
    web_app.router.add_post("/slack/events", slack_events)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    return web_app


class HttpServer:
    """The aiohttp server on a host/port (port 0 picks a free one, for tests and the demo)."""

    def __init__(self, web_app: web.Application, host: str = "0.0.0.0", port: int = 3000) -> None:
        self.web_app = web_app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if server is not None and self.port == 0:
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
