"""Deadline rush: thousands of members submit the response modal at once.

Starts consultbot in HTTP mode against the sandbox Slack (SQLite, and PostgreSQL when
TEST_DATABASE_URL is set), launches a consultation to the network channels, then fires one signed
`view_submission` per member (2,000 distinct members by default) with 100 in flight, from a
separate process. The same bodies then go to a bare Bolt AsyncApp whose listener only acks,
served by the same aiohttp server code (`bot.app.server.make_web_app`) with the same signing.

Prints answers stored (must equal submissions), acks over 3 s (must be 0), p50/p99 ack latency
of both apps and the ratio of the p50s; then, counted from the last ack, how long until every
answer is recorded (each member is told "recorded" at that moment) and every receipt DM is sent.
Exits 1 when a "must" fails.

    python bench/rush.py                     # 2,000 members, 100 in flight
    python bench/rush.py --members 500 --db sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_bolt.async_app import AsyncAck, AsyncApp
from sqlmodel import func, select

from bench.common import (
    STAFF,
    LoadResult,
    World,
    add_consultation,
    build_world,
    database_kinds,
    fire_from_child,
    form_body,
    fresh_database,
    log_like_production,
    percentile,
    table,
)
from bot.answering.blocks.modal import RESPONSE_CALLBACK, ModalContext, response_modal
from bot.answering.inbox import backlog as inbox_backlog
from bot.app.runtime import RuntimeOptions
from bot.app.server import HttpServer, make_web_app
from bot.consultations.catalogue import ConsultationView, get_consultation
from bot.consultations.directory import load_directory
from bot.consultations.launch import start_launch
from bot.demo.sandbox.driver import build_state_values
from bot.demo.sandbox.harness import SIGNING_SECRET, Harness
from storage.models import Response

STANCES = ["strongly_agree", "agree", "undecided", "disagree", "strongly_disagree"]
CONSULTATION = "rush"


def submission_body(view: ConsultationView, world: World, i: int) -> bytes:
    """What Slack sends when member i submits the modal the bot opened for them."""
    user = world.members[i]
    channel = world.channels[i % len(world.channels)]
    modal = response_modal(
        view,
        ModalContext(view.id, channel_id=channel, ask_profile=False),
    )
    values: dict[str, Any] = {}
    for block in modal["blocks"]:
        block_id = block.get("block_id", "")
        if block_id.startswith("choice:"):
            values[block_id] = STANCES[(i + len(values)) % len(STANCES)]
        elif block_id.startswith("comment:") and i % 3:
            values[block_id] = f"Comment {i} on {block_id[8:]}: workforce and funding first."
    sent = {
        **modal,
        "id": f"V0RUSH{i:06d}",
        "hash": f"{i}.rushhash",
        "team_id": "T0SANDBOX",
        "app_id": "A0SANDBOX",
        "bot_id": "B0BOT",
        "state": {"values": build_state_values(modal, values)},
    }
    return form_body(
        {
            "type": "view_submission",
            "team": {"id": "T0SANDBOX", "domain": "sandbox"},
            "user": {"id": user, "username": user.lower(), "name": user.lower()},
            "api_app_id": "A0SANDBOX",
            "token": "sandbox-verification-token",
            "trigger_id": f"{i}.rush.trigger",
            "view": sent,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
    )


def bare_app(client: Any) -> AsyncApp:
    """The floor: Bolt with a listener that only acks."""
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET)

    @app.view(RESPONSE_CALLBACK)
    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    return app


async def stored_answers(h: Harness) -> int:
    async with h.services.db.session() as session:
        return (
            await session.exec(select(func.count()).where(Response.consultation_id == CONSULTATION))
        ).one()


async def run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    async with fresh_database(kind) as url:
        h = Harness(
            url, options=RuntimeOptions(freeze_startup_heap=True)
        )  # production pacing and tick
        await h.start()
        try:
            assert h.slack is not None
            world = build_world(h.slack, members=args.members, channels=args.channels)
            await load_directory(h.services.db, world.directory)
            await add_consultation(h, CONSULTATION)
            await start_launch(h.services, CONSULTATION, actor=STAFF)
            await h.settle(timeout=60)
            view = await get_consultation(h.services.db, CONSULTATION)
            bodies = [submission_body(view, world, i) for i in range(args.members)]

            bare = HttpServer(
                make_web_app(
                    bare_app(h.services.client), h.services, signing_secret=SIGNING_SECRET
                ),
                host="127.0.0.1",
                port=0,
            )
            await bare.start()
            try:
                floor = await fire_from_child(
                    f"{bare.url}/slack/events", SIGNING_SECRET, bodies, args.concurrency
                )
            finally:
                await bare.stop()

            assert h.runtime is not None and h.runtime.server is not None
            target = f"{h.runtime.server.url}/slack/events"
            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            ours = await fire_from_child(target, SIGNING_SECRET, bodies, args.concurrency)
            if profiler:
                profiler.disable()
                out = Path(tempfile.gettempdir()) / f"rush-{kind}.prof"
                profiler.dump_stats(out)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
                print(f"profile written to {out}")
            # Acked means accepted into the inbox; the inbox worker records them just after
            # (each member is told "recorded" then), and the outbox sends the receipts.
            acked_at = time.perf_counter()
            while await inbox_backlog(h.services.db):  # noqa: ASYNC110 (polls the database)
                await asyncio.sleep(0.1)
            recorded_in = time.perf_counter() - acked_at
            await h.settle(timeout=600)
            delivered_in = time.perf_counter() - acked_at
            stored = await stored_answers(h)
            print(f"{kind}: statuses ours={ours.statuses} bare={floor.statuses}", file=sys.stderr)
            return {
                "kind": kind,
                "ours": ours,
                "bare": floor,
                "stored": stored,
                "recorded_in": recorded_in,
                "delivered_in": delivered_in,
            }
        finally:
            await h.stop()


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> bool:
    rows: list[list[str]] = []
    ok = True
    for r in results:
        ours: LoadResult = r["ours"]
        bare: LoadResult = r["bare"]
        p50, p99 = percentile(ours.latencies, 50), percentile(ours.latencies, 99)
        b50, b99 = percentile(bare.latencies, 50), percentile(bare.latencies, 99)
        ratio = p50 / b50 if b50 else float("inf")
        non_200 = sum(n for status, n in ours.statuses.items() if status != 200)
        good = r["stored"] == args.members and ours.over == 0 and non_200 == 0
        ok = ok and good
        rows.append(
            [
                r["kind"],
                f"{r['stored']}/{args.members}",
                str(ours.over),
                str(non_200),
                f"{p50 * 1000:.0f}",
                f"{p99 * 1000:.0f}",
                f"{b50 * 1000:.0f}",
                f"{b99 * 1000:.0f}",
                f"{ratio:.2f}",
                f"{args.members / ours.wall:.0f}",
                f"{r['recorded_in']:.0f}",
                f"{r['delivered_in']:.0f}",
                "ok" if good and p99 < 0.3 and ratio < 2 else ("MISS" if good else "FAIL"),
            ]
        )
    print()
    print(
        f"Deadline rush: {args.members} members submit once each, {args.concurrency} in flight "
        f"({len(results)} database(s)); targets p99 < 300 ms, p50 ratio < 2"
    )
    print(
        table(
            rows,
            [
                "db",
                "stored",
                ">3s",
                "non-200",
                "p50 ms",
                "p99 ms",
                "bare p50",
                "bare p99",
                "p50 ratio",
                "subs/s",
                "all recorded s",
                "receipts sent s",
                "verdict",
            ],
        )
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--members", type=int, default=2000, help="submissions, one per member")
    parser.add_argument("--concurrency", type=int, default=100, help="requests in flight")
    parser.add_argument("--channels", type=int, default=5, help="network channels")
    parser.add_argument(
        "--db",
        choices=["auto", "sqlite", "postgresql", "both"],
        default="auto",
        help="auto: SQLite, plus PostgreSQL when TEST_DATABASE_URL is set",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile our app's run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="consultbot-rush-") as tmp:
        log_like_production(Path(tmp) / "bot.log")
        results = [asyncio.run(run(kind, args)) for kind in database_kinds(args.db)]
    return 0 if report(args, results) else 1


if __name__ == "__main__":
    sys.exit(main())
