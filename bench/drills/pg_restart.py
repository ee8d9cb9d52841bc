"""Drill: restart PostgreSQL while answers are arriving. Every submission that was acked as
accepted is stored, and the bot reconnects without being restarted.

The bot runs in HTTP mode against the sandbox Slack on a fresh PostgreSQL database; members
submit the response modal through signed requests while `pg_ctlcluster ... restart` runs. A
submission the bot could not save is answered with an error in the modal (the member presses
Submit again): that is allowed; an accepted one that is not stored is a failure. Exits 1 on a
failure, 0 with a note when it cannot restart PostgreSQL here (no cluster tools, not root),
unless --require is given (as .ci/run does): then that is a failure too.

    TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        python bench/drills/pg_restart.py
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlmodel import col, func, select

from bench.common import (
    STAFF,
    add_consultation,
    build_world,
    fresh_database,
    log_like_production,
    pg_admin_url,
)
from bench.rush import submission_body
from bot.answering.blocks.receipt import SAVED_TITLE
from bot.app.runtime import RuntimeOptions
from bot.consultations.catalogue import get_consultation
from bot.consultations.directory import load_directory
from bot.consultations.launch import start_launch
from bot.demo.sandbox.harness import Harness
from storage.models import Response

CONSULTATION = "pg-restart"


def restart_command() -> list[str] | None:
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        return None
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir())
    if not versions:
        return None
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]


async def drill(members: int, *, require: bool) -> int:
    command = restart_command()
    if command is None or pg_admin_url() is None:
        print("pg_restart drill skipped: needs TEST_DATABASE_URL and a local pg_ctlcluster")
        return 1 if require else 0
    async with fresh_database("postgresql") as url:
        h = Harness(url, options=RuntimeOptions(tick_seconds=1.0, per_channel_interval=0.0))
        await h.start()
        try:
            assert h.slack is not None and h.driver is not None
            world = build_world(h.slack, members=members + 1, channels=3)
            await load_directory(h.services.db, world.directory)
            await add_consultation(h, CONSULTATION)
            await start_launch(h.services, CONSULTATION, actor=STAFF)
            await h.settle(timeout=60)
            view = await get_consultation(h.services.db, CONSULTATION)
            driver = h.driver

            async def submit(i: int) -> tuple[str, str]:
                body = submission_body(view, world, i)
                await asyncio.sleep(i * 0.01)  # a steady stream across the restart
                try:
                    response = await driver.post_raw(
                        body, {"Content-Type": "application/x-www-form-urlencoded"}
                    )
                except Exception as exc:  # the request itself failed: not acked
                    return world.members[i], f"error:{type(exc).__name__}"
                action = (response.json or {}).get("response_action")
                title = ((response.json or {}).get("view") or {}).get("title", {}).get("text")
                if response.status == 200 and (action is None or title == SAVED_TITLE):
                    return world.members[i], "accepted"
                return world.members[i], f"refused:{response.status}:{action}"

            async def restart() -> None:
                await asyncio.sleep(members * 0.01 / 3)
                print("restarting PostgreSQL:", " ".join(command), flush=True)
                done = await asyncio.to_thread(
                    subprocess.run, command, capture_output=True, text=True
                )
                if done.returncode != 0:
                    raise RuntimeError(f"restart failed: {done.stderr.strip()}")

            results, _ = await asyncio.gather(
                asyncio.gather(*(submit(i) for i in range(members))), restart()
            )
            accepted = {member for member, outcome in results if outcome == "accepted"}
            refused = [member for member, outcome in results if outcome != "accepted"]
            await h.settle(timeout=120)
            async with h.services.db.session() as session:
                stored = set(
                    (
                        await session.exec(
                            select(Response.user_id).where(
                                Response.consultation_id == CONSULTATION,
                                col(Response.user_id).in_(accepted),
                            )
                        )
                    ).all()
                )
            lost = sorted(accepted - stored)
            # The bot reconnected by itself: one more member answers after the restart.
            last = members  # the extra member, kept back until now
            after = await driver.post_raw(
                submission_body(view, world, last),
                {"Content-Type": "application/x-www-form-urlencoded"},
            )
            after_action = (after.json or {}).get("response_action")
            await h.settle(timeout=60)
            async with h.services.db.session() as session:
                total = (
                    await session.exec(
                        select(func.count()).where(Response.consultation_id == CONSULTATION)
                    )
                ).one()
                last_stored = (
                    await session.exec(
                        select(func.count()).where(
                            Response.consultation_id == CONSULTATION,
                            Response.user_id == world.members[last],
                        )
                    )
                ).one()
            print(
                f"submissions {members}: accepted {len(accepted)}, asked to resubmit "
                f"{len(refused)}, accepted but not stored {len(lost)}; "
                f"after the restart: HTTP {after.status} ({after_action or 'closed'}), "
                f"stored now {total}"
            )
            if lost:
                print("LOST:", ", ".join(lost[:20]))
                return 1
            # Accepted (the modal said "saved") and then really stored.
            recovered = after.status == 200 and after_action in (None, "update")
            if not recovered or last_stored != 1:
                print("the bot did not recover after the restart")
                return 1
            print("ok: every accepted submission is stored and the bot recovered by itself")
            return 0
        finally:
            await h.stop()


def main() -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=150)
    parser.add_argument(
        "--require", action="store_true", help="fail (not skip) when PostgreSQL cannot be restarted"
    )
    args = parser.parse_args()
    # The bot's error log during the restart is expected and long: keep it out of the terminal.
    log_path = Path(tempfile.gettempdir()) / "consultbot-pg-restart.log"
    log_like_production(log_path)
    print(f"the bot's log: {log_path}")
    return asyncio.run(drill(args.members, require=args.require))


if __name__ == "__main__":
    sys.exit(main())
