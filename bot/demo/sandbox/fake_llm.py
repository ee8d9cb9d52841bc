"""A fake OpenAI-compatible chat-completions endpoint on loopback, for testing LLM theme coding.

It answers the three tasks `bot.reporting.llm_coding` sends (propose, condense, code) by keyword
rules it is given, and can misbehave on purpose: invent quotes, state wrong counts, hang past
the client's timeout, or reply with prose instead of JSON. Every request body is kept, so tests
can check what left the machine.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from aiohttp import web

Behaviour = Literal["good", "invented_quote", "wrong_counts", "slow", "junk", "error"]


@dataclass
class FakeLLM:
    # Theme label -> words that put a comment in it (case-insensitive substring match).
    rules: Mapping[str, tuple[str, ...]]
    behaviour: Behaviour = "good"
    slow_seconds: float = 5.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _url: str = ""

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return self._url

    def sent_text(self) -> str:
        """Everything the client sent, as one string."""
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in self.requests)

    async def _complete(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.behaviour == "slow":
            await asyncio.sleep(self.slow_seconds)
        if self.behaviour == "error":
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        if self.behaviour == "junk":
            return self._reply("Sure! Members talked about many things, mostly funding.")
        task = json.loads(body["messages"][-1]["content"])
        if task["task"] in ("propose_themes", "condense_themes"):
            themes = [
                {"label": label, "description": f"Comments about {label.lower()}."}
                for label in self.rules
            ]
            return self._reply(json.dumps({"themes": themes}))
        return self._reply(json.dumps(self._code(task)))

    def _code(self, task: Mapping[str, Any]) -> dict[str, Any]:
        ids = {t["label"]: t["id"] for t in task["themes"]}
        codings = []
        counts: dict[str, int] = dict.fromkeys(ids.values(), 0)
        for comment in task["comments"]:
            text = comment["text"]
            found = [
                ids[label]
                for label, words in self.rules.items()
                if label in ids and any(w.lower() in text.lower() for w in words)
            ]
            for tid in found:
                counts[tid] += 1
            quote = text.split(". ")[0].rstrip(".")
            if self.behaviour == "invented_quote":
                quote = "Every member agreed this is the single biggest issue"
            codings.append({"comment": comment["id"], "themes": found, "quote": quote})
        if self.behaviour == "wrong_counts":
            counts = {tid: n + 3 for tid, n in counts.items()}
        return {"codings": codings, "counts": counts}

    @staticmethod
    def _reply(content: str) -> web.Response:
        return web.json_response(
            {
                "id": "chatcmpl-sandbox",
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            }
        )
