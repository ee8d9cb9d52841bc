"""Drill: kill -9 the bot mid-launch and mid-reminder round, start it again; every channel and
every member gets exactly one message.

The bot runs as a child process (`Runtime` with its outbox and ticker) against a sandbox Slack
served by this process, which slows `chat.postMessage` so the SIGKILL lands while posts are in
flight (some accepted by Slack but not yet marked sent). After each kill the dead worker's
leases are expired (what waiting out the lease would do, without the wait) and a new child
is started. Exits 1 on a duplicate or a missing message.

    python bench/drills/kill_mid_send.py              # SQLite
    python bench/drills/kill_mid_send.py --db postgresql   # needs TEST_DATABASE_URL
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import update
from sqlmodel import col

from bench.common import (
    STAFF,
    build_world,
    fresh_database,
    zone_at_midday,
)
from bot.app.runtime import Runtime, RuntimeOptions
from bot.core.settings import Settings
from bot.demo.sandbox.harness import SIGNING_SECRET
from bot.demo.sandbox.slack_api import SandboxSlack
from storage.models import OutboxMessage, ReminderPlan, utcnow

CONSULTATION = "kill-drill"
REMINDER_TEXT = "Reminder"  # the notification text of a reminder DM and of a thread reminder


def settings(database_url: str, slack_url: str, token: str) -> Settings:
    return Settings(
        SLACK_BOT_TOKEN=token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_url,
        DATABASE_URL=database_url,
        CONSULTBOT_ANON_SECRET="drill-anonymity-key",
        CONSULTBOT_DIRECTORY=None,
    )


async def child(database_url: str, slack_url: str, token: str) -> None:
    """The bot: outbox worker and ticker, until killed."""
    runtime = Runtime(
        settings(database_url, slack_url, token),
        RuntimeOptions(tick_seconds=0.5, per_channel_interval=0.0, load_directory=False),
    )
    await runtime.start()
    await asyncio.Event().wait()


class Bot:
    def __init__(self, database_url: str, slack: SandboxSlack) -> None:
        self.args = [
            sys.executable,
            __file__,
            "--child",
            "--database-url",
            database_url,
            "--slack-url",
            slack.url,
            "--token",
            slack.bot_token,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL)

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


async def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def expire_leases(db) -> None:  # type: ignore[no-untyped-def]
    """What the restarted bot would find after waiting out the dead one's leases."""
    past = utcnow() - timedelta(seconds=1)
    async with db.session() as session:
        await session.exec(  # type: ignore[call-overload]
            update(OutboxMessage)
            .where(col(OutboxMessage.status) == "sending")
            .values(lease_until=past)
        )
        await session.exec(  # type: ignore[call-overload]
            update(ReminderPlan)
            .where(col(ReminderPlan.status) == "claimed")
            .values(lease_until=past)
        )


async def drill(kind: str, members: int, channels: int, delay: float) -> list[str]:
    problems: list[str] = []
    slack = SandboxSlack()
    await slack.start()
    async with fresh_database(kind) as url:
        # This process writes what staff would (directory, consultation, launch); it sends nothing.
        control = Runtime(
            settings(url, slack.url, slack.bot_token),
            RuntimeOptions(start_outbox=False, start_scheduler=False, load_directory=False),
        )
        services = await control.start()
        bot = Bot(url, slack)
        try:
            from bot.consultations.directory import load_directory
            from bot.consultations.launch import start_launch

            world = build_world(slack, members=members, channels=channels, tz=zone_at_midday())
            await load_directory(services.db, world.directory)
            await _add(services, CONSULTATION)

            # --- mid-launch -----------------------------------------------------------------
            slack.fail_next("chat.postMessage", count=10_000, delay=delay)
            await start_launch(services, CONSULTATION, actor=STAFF)
            bot.start()
            await wait_until(
                lambda: slack.count("chat.postMessage") >= channels // 3, 60, "the first posts"
            )
            bot.kill()
            in_flight = slack.count("chat.postMessage")
            await asyncio.sleep(delay + 0.2)  # posts Slack had already accepted complete
            print(f"  killed mid-launch after {in_flight} of {channels} posts were accepted")
            await expire_leases(services.db)
            bot.start()
            await wait_until(
                lambda: all(slack.top_level_messages(c) for c in world.channels), 60, "the launch"
            )
            await asyncio.sleep(1.0)  # anything extra would show up now
            for c in world.channels:
                n = len(slack.top_level_messages(c))
                if n != 1:
                    problems.append(f"launch: {c} has {n} posts")

            # --- mid-reminder ---------------------------------------------------------------
            async with services.db.session() as session:
                await session.exec(  # type: ignore[call-overload]
                    update(ReminderPlan)
                    .where(
                        col(ReminderPlan.consultation_id) == CONSULTATION,
                        col(ReminderPlan.status) == "pending",
                    )
                    .values(due_at=utcnow() - timedelta(seconds=1))
                )

            def reminder_dms() -> Counter[str]:
                return Counter(
                    m.channel
                    for m in slack.all_messages
                    if m.channel.startswith("D") and REMINDER_TEXT in (m.text or "")
                )

            await wait_until(lambda: sum(reminder_dms().values()) >= members // 3, 60, "DMs")
            bot.kill()
            print(f"  killed mid-reminder after {sum(reminder_dms().values())} of {members} DMs")
            await asyncio.sleep(delay + 0.2)
            await expire_leases(services.db)
            bot.start()
            await wait_until(lambda: len(reminder_dms()) >= members, 90, "every reminder DM")
            await asyncio.sleep(1.0)
            dms = reminder_dms()
            for dm, n in dms.items():
                if n != 1:
                    problems.append(f"reminder: {dm} got {n} DMs")
            missing = {slack.dm_channel_id(u) for u in world.members} - set(dms)
            problems.extend(f"reminder: no DM in {dm}" for dm in sorted(missing))
            for c in world.channels:
                post = slack.top_level_messages(c)[0]
                replies = [
                    m for m in slack.thread_replies(c, post.ts) if "Reminder" in (m.text or "")
                ]
                if len(replies) != 1:
                    problems.append(f"reminder: {c} has {len(replies)} thread reminders")
        finally:
            bot.stop()
            await control.stop()
            await slack.stop()
    return problems


async def _add(services, consultation_id: str) -> None:  # type: ignore[no-untyped-def]
    """The example consultation, open for two weeks, reminding a day before the deadline."""

    from bench.common import EXAMPLES
    from bot.consultations.catalogue import add_consultation as add
    from bot.consultations.files import load_consultation_file

    spec = load_consultation_file(EXAMPLES / "integrating-care.yaml").model_copy(
        update={
            "id": consultation_id,
            "deadline": utcnow() + timedelta(days=14),
            "reminders": ["1d"],
        }
    )
    await add(services.db, spec, default_timezone="Europe/London")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--members", type=int, default=120)
    parser.add_argument("--channels", type=int, default=12)
    parser.add_argument("--delay", type=float, default=0.25, help="seconds each post takes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--slack-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.database_url, args.slack_url, args.token))
        return 0
    print(f"kill -9 drill on {args.db}: {args.channels} channels, {args.members} members")
    problems = asyncio.run(drill(args.db, args.members, args.channels, args.delay))
    for problem in problems:
        print("  FAIL", problem)
    print("  ok: one post per channel, one reminder per member and channel" if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
