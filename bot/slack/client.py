"""The one place an AsyncWebClient is made: pointed at SLACK_API_URL, with retry handlers."""

from __future__ import annotations

from aiohttp import ClientSession
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient


def make_client(
    token: str, base_url: str, *, timeout: int = 15, session: ClientSession | None = None
) -> AsyncWebClient:
    """`session`: one aiohttp session for every call, so calls reuse kept-alive connections.
    Without it the SDK opens (and closes) a new session, a new TCP and TLS connection, for
    each call: fine for a one-off CLI command, costly for a round of thousands of DMs."""
    base_url = base_url if base_url.endswith("/") else base_url + "/"
    client = AsyncWebClient(token=token, base_url=base_url, timeout=timeout, session=session)
    client.retry_handlers.extend(
        [
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ]
    )
    # The default list already holds a connection-error handler; make sure it is there.
    if not any(isinstance(h, AsyncConnectionErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(AsyncConnectionErrorRetryHandler())
    return client
