"""Builds the Bolt AsyncApp: verification by Bolt, one log line per request, handlers per kind."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.listener.async_listener_start_handler import AsyncListenerStartHandler
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.services import Services
from bot.delivery.metrics import Metrics
from handlers import register_all
from handlers.commands import Subcommand

log = logging.getLogger("consultbot.requests")

SORRY = "Sorry, something went wrong on our side and nothing was changed. Please try again."
# Set in a request's context (bot.app.server) where its payload's JSON text was seen to hold no
# "\u0000", the only way JSON can carry a NUL: the walk over every string of a 12 KB modal
# submission, skipped then, cost about 75 us of every ack (bench/rush.py).
NUL_FREE = "consultbot_payload_nul_free"


def describe_request(body: dict[str, Any]) -> tuple[str, str]:
    """(kind, id) of a Slack request for the log line.

    Never the user's text, answers or user id: anonymous consultations must not be traceable
    through the logs either.
    """
    kind = body.get("type") or ("slash_command" if "command" in body else "unknown")
    if kind == "slash_command":
        words = str(body.get("text", "")).split()
        return kind, f"{body.get('command')} {words[0] if words else 'help'}"
    if kind == "block_actions":
        actions = body.get("actions") or [{}]
        return kind, str(actions[0].get("action_id"))
    if kind in ("view_submission", "view_closed"):
        return kind, str((body.get("view") or {}).get("callback_id"))
    if kind == "event_callback":
        return kind, str((body.get("event") or {}).get("type"))
    return str(kind), ""


def outcome_of(response: BoltResponse | None) -> str:
    """ok, invalid (the member must fix a field), refused (4xx) or error, for the log line."""
    if response is None or response.status >= 500:
        return "error"
    if response.status >= 400:
        return "refused"
    if '"response_action": "errors"' in (response.body or ""):  # Bolt's ack(errors=...)
        return "invalid"
    return "ok"


class ConsultbotApp(AsyncApp):
    """Bolt's AsyncApp, logging one line per request it handles, over HTTP or Socket Mode.

    Timed around the whole dispatch: a Bolt middleware's `next()` returns before the listener
    runs, so it cannot measure what Slack waits for."""

    metrics: Metrics | None = None  # set by build_app: request latency by kind
    workspace: OneWorkspace  # set by build_app: its authorization, warmed by the runtime

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        started = time.perf_counter()
        body = req.body if isinstance(req.body, dict) else {}
        if not req.context.get(NUL_FREE):
            # Bolt checks the signature over the raw body, so cleaning the parsed one first
            # changes nothing it verifies: every middleware and listener sees clean text.
            drop_nul_characters(body)
        response: BoltResponse | None = None
        try:
            response = await super().async_dispatch(req)
            return response
        finally:
            kind, ident = describe_request(body)
            latency = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.observe_request(kind, latency)
            log.info(
                json.dumps(
                    {
                        "kind": kind,
                        "id": ident,
                        "latency_ms": round(latency * 1000, 1),
                        "outcome": outcome_of(response),
                    }
                )
            )


class OneWorkspace(AsyncAuthorize):
    """Who the bot is in its one workspace (auth.test), asked once for the whole process.

    Bolt's own single-workspace authorization asks Slack on the first request, and so does
    every request that arrives before the answer: restarted in the middle of a rush, the bot
    made a hundred auth.test calls at once, and a member whose call Slack answered with a 429
    waited out the Retry-After before their ack (one ack took over 3 s in bench/rush.py with
    Slack's limits on). Here the runtime asks at start, and until an answer is known, callers
    share one call; a failed call is asked again by the next request."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._identity: dict[str, Any] | None = None
        self._scopes: str | None = None
        self._asking: asyncio.Future[dict[str, Any]] | None = None

    async def identity(self) -> dict[str, Any]:
        """auth.test's answer (team, bot user and bot ids); raises as the call did."""
        if self._identity is not None:
            return self._identity
        if self._asking is None or self._asking.done():
            self._asking = asyncio.ensure_future(self._ask())
        # shield: one caller giving up must not cancel the call the others wait on.
        return await asyncio.shield(self._asking)

    async def _ask(self) -> dict[str, Any]:
        response = await self.client.auth_test()
        self._scopes = response.headers.get("x-oauth-scopes")
        self._identity = dict(response.data) if isinstance(response.data, dict) else {}
        return self._identity

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        known = await self.identity()
        # As Bolt's single-workspace authorization builds it for a bot token.
        return AuthorizeResult(
            enterprise_id=known.get("enterprise_id"),
            team_id=known.get("team_id"),
            bot_id=known.get("bot_id"),
            bot_user_id=known.get("user_id"),
            bot_token=self.client.token,
            user_id=user_id,
            bot_scopes=self._scopes,
        )


class TrackListeners(AsyncListenerStartHandler):
    """Hands the task each listener runs in to `Services.track`, so stopping the bot lets a
    listener still working after its ack finish instead of cancelling it mid-query."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.services.track(task)


def drop_nul_characters(value: Any) -> Any:
    """`value` with every NUL character taken out of its strings (keys too), in place where it
    is a dict or list. A NUL can be pasted into a text box, or forged; PostgreSQL refuses it in
    text and JSON, so a member would be told "not saved" for a character nobody can see."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        for key in list(value):
            item = drop_nul_characters(value.pop(key) if "\x00" in str(key) else value[key])
            value[drop_nul_characters(key)] = item
    elif isinstance(value, list):
        value[:] = [drop_nul_characters(item) for item in value]
    return value


def build_app(
    services: Services, subcommands: Sequence[Subcommand], *, signing_secret: str
) -> ConsultbotApp:
    workspace = OneWorkspace(services.client)
    # Bolt's client carries no token of its own: each request's comes from `workspace`
    # (given a token as well, Bolt would ignore it and log a warning at every start).
    bolt_client = copy.copy(services.client)
    bolt_client.token = None
    app = ConsultbotApp(client=bolt_client, signing_secret=signing_secret, authorize=workspace)
    app.workspace = workspace
    app.listener_runner.listener_start_handler = TrackListeners(services)
    app.metrics = services.metrics

    @app.error
    async def on_error(
        error: Exception, body: dict[str, Any], response: BoltResponse | None
    ) -> BoltResponse | None:
        # Never a 5xx to Slack (it would retry); the user gets a plain apology instead.
        log.exception("listener failed: %s", type(error).__name__, exc_info=error)
        if response is None:
            # Failed after its ack: Slack has had its answer, so there is nothing to replace
            # (Bolt refuses a response here and would raise in the listener's task).
            return None
        if body.get("type") == "view_submission":
            # Never an empty 200 here: Slack would close the modal as if it had been saved.
            from bot.answering.blocks.modal import info_modal

            return BoltResponse(
                status=200,
                body=json.dumps(
                    {"response_action": "update", "view": info_modal("Not saved", SORRY)}
                ),
                headers={"content-type": "application/json"},
            )
        return BoltResponse(
            status=200,
            body=json.dumps({"response_type": "ephemeral", "text": SORRY}),
            headers={"content-type": "application/json"},
        )

    register_all(app, services, subcommands)
    return app


async def dispatch(app: AsyncApp, body: str, headers: dict[str, str]) -> BoltResponse:
    """Hand one raw HTTP request to Bolt (verification included)."""
    return await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
