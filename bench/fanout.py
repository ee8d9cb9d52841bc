"""Fan-out: launch a consultation to many channels, then remind every non-responder by DM, with the
sandbox enforcing Slack-like limits.

Starts consultbot (the real `Runtime`, production pacing: 1 message/s per channel) against the
sandbox Slack with these limits:

  * chat.postMessage: 1/s per channel with a burst of 3 (Slack's documented "special" tier);
  * a workspace-wide per-minute cap on chat.postMessage and on conversations.open (a 60 s
    sliding window). Slack publishes no workspace-wide figure for chat.postMessage; the value
    here (--post-per-minute) is this benchmark's assumption;
  * 2% of all calls answer 429 with Retry-After: 1 at random (--random-429).

Then: launch to --channels network channels (one post each), let --responders members answer,
bring the consultation's reminder forward to now and send it: one thread reply per channel plus
one DM per non-responder, all through the outbox. DMs are posted with channel=<user id>, which
needs no conversations.open; its cap is enforced anyway, and the count of those calls is shown.

Prints the wall time (launch called -> last message delivered) against the floor the limits
imply, duplicates and missing messages (both must be 0: exactly one launch post and one
reminder thread reply per channel, exactly one reminder DM per non-responder and none to a
responder). Exits 1 on a duplicate, a missing message or a failed outbox row.

The floor is the least wall time the limits allow a sender that has every message ready at the
start: the slowest of (a) the workspace cap, a sliding 60 s window, through which message k
(counted from 0) can go no earlier than 60 s x floor(k / cap), so 2,080 messages at 1,200/min
need one roll of the window, 60 s; (b) one channel's posts beyond its burst at its rate; (c) the
same window for conversations.open. The bot does not have every message at the start (the
reminder round is gathered after the launch), so its wall time includes that work too.

    python bench/fanout.py                                # 40 channels, 2,000 DMs, auto db
    python bench/fanout.py --members 520 --responders 20 --post-per-minute 600 --db sqlite
    python bench/fanout.py --channels 40 --members 2020 --post-per-minute 600   # the issue's 600
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import update
from sqlmodel import col, func, select

from bench.common import (
    STAFF,
    add_consultation,
    build_world,
    database_kinds,
    fresh_database,
    log_like_production,
    table,
    zone_at_midday,
)
from bot.answering.answers import Submission, record_submission
from bot.app.runtime import RuntimeOptions
from bot.consultations.catalogue import get_consultation
from bot.consultations.directory import load_directory
from bot.consultations.launch import start_launch
from bot.demo.sandbox.harness import Harness
from bot.demo.sandbox.ratelimit import RateLimits
from bot.engagement.reminders import send_due_reminders
from storage.models import OutboxMessage, ReminderPlan, utcnow

CONSULTATION = "fanout"
REMINDER = "Reminder"  # in the notification text of a reminder DM and of a thread reminder


def limits(args: argparse.Namespace) -> RateLimits:
    return RateLimits(
        per_channel_per_second=args.per_channel_rate,
        per_channel_burst=args.burst,
        per_method_per_minute={
            "chat.postMessage": args.post_per_minute,
            "conversations.open": args.open_per_minute,
        },
        random_429_rate=args.random_429,
        random_retry_after=1,
    )


@dataclass
class Floor:
    seconds: float
    binding: str
    parts: dict[str, float] = field(default_factory=dict)


def window_floor(calls: int, per_minute: int) -> float:
    """Least seconds for `calls` through a sliding 60 s window of `per_minute`: call k (from 0)
    must wait until call k - per_minute has left the window."""
    return 60.0 * ((calls - 1) // per_minute) if calls > 0 else 0.0


def floor(args: argparse.Namespace, posts: int, per_channel: int, opens: int) -> Floor:
    """The least wall time the limits allow (the slowest constraint wins)."""
    parts = {
        "workspace postMessage": window_floor(posts, args.post_per_minute),
        "per channel": max(0, per_channel - args.burst) / args.per_channel_rate,
        "conversations.open": window_floor(opens, args.open_per_minute),
    }
    binding = max(parts, key=lambda k: parts[k])
    return Floor(parts[binding], binding, parts)


async def answer(h: Harness, members: list[str]) -> None:
    """These members respond (recorded as the modal would, without the HTTP round trip)."""
    view = await get_consultation(h.services.db, CONSULTATION)
    async with h.services.db.session() as session:
        for uid in members:
            await record_submission(
                session,
                Submission(consultation=view, answers={}, user_id=uid),
                anon_secret=h.services.anon_secret,
            )


async def make_reminder_due(h: Harness) -> None:
    async with h.services.db.session() as session:
        result = await session.exec(  # type: ignore[call-overload]
            update(ReminderPlan)
            .where(
                col(ReminderPlan.consultation_id) == CONSULTATION,
                col(ReminderPlan.status) == "pending",
            )
            .values(due_at=utcnow() - timedelta(seconds=1))
        )
        assert result.rowcount == 1, f"expected one pending reminder, found {result.rowcount}"


def check(h: Harness, channels: list[str], reminded: list[str], responders: list[str]) -> dict:
    """Duplicates and missing, counted from what the sandbox received."""
    assert h.slack is not None
    slack = h.slack
    dups = missing = 0
    problems: list[str] = []
    by_channel: dict[str, list[Any]] = {}
    for m in slack.all_messages:
        if m.ephemeral_to is None:
            by_channel.setdefault(m.channel, []).append(m)
    for c in channels:
        msgs = by_channel.get(c, [])
        posts = [m for m in msgs if not m.is_reply]
        if len(posts) != 1:
            problems.append(f"{c}: {len(posts)} launch posts")
        dups += max(0, len(posts) - 1)
        missing += 1 if not posts else 0
        replies = [m for m in msgs if m.is_reply and REMINDER in (m.text or "")]
        if len(replies) != 1:
            problems.append(f"{c}: {len(replies)} reminder thread replies")
        dups += max(0, len(replies) - 1)
        missing += 1 if not replies else 0
    dms = Counter(
        m.channel
        for m in slack.all_messages
        if m.channel.startswith("D") and REMINDER in (m.text or "")
    )
    for uid in reminded:
        n = dms.get(slack.dm_channel_id(uid), 0)
        if n != 1:
            problems.append(f"{uid}: {n} reminder DMs")
        dups += max(0, n - 1)
        missing += 1 if n == 0 else 0
    for uid in responders:  # a DM to a responder is one too many
        n = dms.get(slack.dm_channel_id(uid), 0)
        if n:
            problems.append(f"{uid} answered but got {n} reminder DMs")
        dups += n
    return {"dups": dups, "missing": missing, "problems": problems}


async def run(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    async with fresh_database(kind) as url:
        # Production pacing (1 message/s per channel) and tick; the sandbox enforces the limits.
        h = Harness(url, options=RuntimeOptions(freeze_startup_heap=True), rate_limits=limits(args))
        await h.start()
        try:
            assert h.slack is not None
            slack = h.slack
            world = build_world(
                slack, members=args.members, channels=args.channels, tz=zone_at_midday()
            )
            await load_directory(h.services.db, world.directory)
            await add_consultation(h, CONSULTATION, reminders=["1d"])
            step = max(1, args.members // args.responders) if args.responders else 0
            responders = world.members[::step][: args.responders] if step else []
            await answer(h, responders)
            answered = set(responders)
            reminded = [u for u in world.members if u not in answered]
            calls_before = len(slack.calls)

            profiler = cProfile.Profile() if args.profile else None
            if profiler:
                profiler.enable()
            started = time.perf_counter()
            await start_launch(h.services, CONSULTATION, actor=STAFF)
            await h.settle(timeout=args.timeout)
            launched = time.perf_counter()
            await make_reminder_due(h)
            rounds = await send_due_reminders(h.services)
            assert rounds == 1, f"expected one reminder round, sent {rounds}"
            enqueued = time.perf_counter()
            await h.settle(timeout=args.timeout)
            wall = time.perf_counter() - started
            if profiler:
                profiler.disable()
                out = Path(tempfile.gettempdir()) / f"fanout-{kind}.prof"
                profiler.dump_stats(out)
                pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
                print(f"profile written to {out}", file=sys.stderr)
            await asyncio.sleep(1.0)  # anything sent twice late would show up now

            calls = slack.calls[calls_before:]
            posts = sum(1 for c in calls if c.method == "chat.postMessage" and c.ok)
            opens = sum(1 for c in calls if c.method == "conversations.open")
            limited = Counter(c.method for c in calls if c.http_status == 429)
            async with h.services.db.read_session() as session:
                states = dict(
                    (
                        await session.exec(
                            select(OutboxMessage.status, func.count()).group_by(
                                OutboxMessage.status
                            )
                        )
                    ).all()
                )
            found = check(h, world.channels, reminded, responders)
            per_channel = 2  # the launch post and the reminder thread reply
            return {
                "kind": kind,
                "wall": wall,
                "launch": launched - started,
                "enqueue": enqueued - launched,
                "posts": posts,
                "expected": len(world.channels) * per_channel + len(reminded),
                "opens": opens,
                "limited": limited,
                "states": states,
                "floor": floor(args, len(world.channels) * per_channel + len(reminded), 2, opens),
                **found,
            }
        finally:
            await h.stop()


def report(args: argparse.Namespace, results: list[dict[str, Any]]) -> bool:
    print()
    print(
        f"Fan-out: launch to {args.channels} channels, {args.responders} of {args.members} "
        f"members answer, reminder round = {args.channels} thread replies + "
        f"{args.members - args.responders} DMs"
    )
    print(
        f"Limits (sandbox): chat.postMessage {args.per_channel_rate:g}/s per channel "
        f"(burst {args.burst}) and {args.post_per_minute}/min workspace-wide (bench assumption); "
        f"conversations.open {args.open_per_minute}/min; {args.random_429:.0%} random 429 "
        f"(Retry-After 1). Target: wall <= {args.target:g}x floor."
    )
    rows: list[list[str]] = []
    ok = True
    for r in results:
        fl: Floor = r["floor"]
        # No floor (everything fits in the first window and every channel's burst): no ratio.
        ratio = r["wall"] / fl.seconds if fl.seconds else None
        failed = r["states"].get("failed", 0)
        good = r["dups"] == 0 and r["missing"] == 0 and failed == 0
        ok = ok and good
        fast = ratio is None or ratio <= args.target
        verdict = "FAIL" if not good else ("ok" if fast else "SLOW")
        rows.append(
            [
                r["kind"],
                f"{r['wall']:.1f}",
                f"{fl.seconds:.1f} ({fl.binding})",
                f"{ratio:.2f}" if ratio is not None else "n/a",
                f"{r['launch']:.1f}",
                f"{r['enqueue']:.1f}",
                f"{r['posts']}/{r['expected']}",
                str(r["opens"]),
                str(sum(r["limited"].values())),
                str(r["dups"]),
                str(r["missing"]),
                str(failed),
                verdict,
            ]
        )
        for problem in r["problems"][:10]:
            print(f"  {r['kind']}: {problem}", file=sys.stderr)
    print(
        table(
            rows,
            [
                "db",
                "wall s",
                "floor s",
                "ratio",
                "launch s",
                "enqueue s",
                "posts ok",
                "conv.open",
                "429s",
                "dups",
                "missing",
                "failed",
                "verdict",
            ],
        )
    )
    print(
        "launch s = launch called -> every channel post delivered; enqueue s = reminder round gathered "
        "(channel members via users.list) and written to the outbox; 429s = answers the sandbox refused."
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--channels", type=int, default=40, help="network channels")
    parser.add_argument("--members", type=int, default=2020, help="members in the channels")
    parser.add_argument("--responders", type=int, default=20, help="members who answer first")
    parser.add_argument(
        "--post-per-minute",
        type=int,
        default=1200,
        help="workspace-wide chat.postMessage cap (assumed; Slack publishes none)",
    )
    parser.add_argument("--open-per-minute", type=int, default=300, help="conversations.open cap")
    parser.add_argument("--per-channel-rate", type=float, default=1.0, help="posts/s per channel")
    parser.add_argument("--burst", type=int, default=3, help="per-channel burst")
    parser.add_argument("--random-429", type=float, default=0.02, help="share of random 429s")
    parser.add_argument("--target", type=float, default=1.2, help="acceptable wall/floor")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait per phase")
    parser.add_argument(
        "--db",
        choices=["auto", "sqlite", "postgresql", "both"],
        default="auto",
        help="auto: SQLite, plus PostgreSQL when TEST_DATABASE_URL is set",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the timed part")
    args = parser.parse_args()
    if not 0 <= args.responders < args.members:
        parser.error("--responders must be between 0 and --members - 1")
    with tempfile.TemporaryDirectory(prefix="consultbot-fanout-") as tmp:
        log_like_production(Path(tmp) / "bot.log")
        results = [asyncio.run(run(kind, args)) for kind in database_kinds(args.db)]
    return 0 if report(args, results) else 1


if __name__ == "__main__":
    sys.exit(main())
