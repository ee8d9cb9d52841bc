"""Shared pieces of the benchmarks and drills: databases, a synthetic workspace, a load generator.

The load generator runs in a child process so the bot's event loop is not also the client's,
as with real Slack; it signs each body at send time exactly as Slack does.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/x.py` from anywhere
    sys.path.insert(0, str(ROOT))


from bot.consultations.files import DirectoryFile, MemberSpec, NetworkSpec, RegionSpec  # noqa: E402
from bot.demo.sandbox.driver import compute_signature  # noqa: E402
from storage.admin import pg_execute, postgres_admin_url, with_database  # noqa: E402
from storage.models import utcnow  # noqa: E402

EXAMPLES = ROOT / "examples"
STAFF = "U0BENCHSTAFF"
REGIONS = [("london", "London"), ("north-west", "North West"), ("midlands", "Midlands")]


# --- databases -------------------------------------------------------------------------------


# One place for PostgreSQL database admin (storage.admin); bench code reads these names.
pg_admin_url = postgres_admin_url


@asynccontextmanager
async def fresh_database(kind: str) -> AsyncIterator[str]:
    """A URL of an empty database of `kind` ("sqlite" or "postgresql"), removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="consultbot-bench-") as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    admin = pg_admin_url()
    if admin is None:
        raise RuntimeError("TEST_DATABASE_URL is not a PostgreSQL URL")
    name = f"cbbench_{uuid.uuid4().hex[:10]}"
    await pg_execute(admin, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin, name)
    finally:
        await pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_kinds(choice: str) -> list[str]:
    """`--db auto|sqlite|postgresql|both`: auto = SQLite, plus PostgreSQL when configured."""
    if choice == "auto":
        return ["sqlite", "postgresql"] if pg_admin_url() else ["sqlite"]
    if choice == "both":
        return ["sqlite", "postgresql"]
    return [choice]


# --- a synthetic workspace -------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    members: list[str]  # member user ids
    channels: list[str]  # network channel ids, in network order
    directory: DirectoryFile


def member_id(n: int) -> str:
    return f"U0B{n:06d}"


def channel_id(n: int) -> str:
    return f"C0BNET{n:03d}"


def build_world(
    slack: Any, *, members: int, channels: int, profiles: bool = True, tz: str = "Europe/London"
) -> World:
    """`members` people spread round-robin over `channels` network channels, in the sandbox
    (users + channels) and as a directory (networks, staff, and a profile per member)."""
    ids = [member_id(i) for i in range(members)]
    chans = [channel_id(i) for i in range(channels)]
    slack.add_user(STAFF, name="bench.staff", real_name="Bench Staff")
    for uid in ids:
        slack.add_user(uid, name=f"member.{uid.lower()}", real_name=f"Member {uid[3:]}", tz=tz)
    for c, cid in enumerate(chans):
        slack.add_channel(cid, f"bench-network-{c}", members=ids[c::channels])
    directory = DirectoryFile(
        staff=[STAFF],
        regions=[RegionSpec(id=rid, name=name) for rid, name in REGIONS],
        networks=[
            NetworkSpec(id=f"bench-network-{c}", name=f"Bench Network {c}", channel=cid)
            for c, cid in enumerate(chans)
        ],
        members=(
            {
                uid: MemberSpec(region=REGIONS[i % len(REGIONS)][0], organisation=f"Org {i % 97}")
                for i, uid in enumerate(ids)
            }
            if profiles
            else {}
        ),
    )
    return World(ids, chans, directory)


async def add_consultation(harness: Any, consultation_id: str, **overrides: Any) -> str:
    """The integrating-care example under another id, with a deadline two weeks ahead."""
    return await harness.add_consultation_file(
        EXAMPLES / "integrating-care.yaml",
        id=consultation_id,
        deadline=utcnow() + timedelta(days=14),
        **overrides,
    )


# --- load generator (child process) ----------------------------------------------------------


def form_body(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


@dataclass(frozen=True)
class LoadResult:
    latencies: list[float]  # seconds, one per request that got an answer
    statuses: dict[int, int]
    errors: int
    wall: float
    # Wall-clock time (time.time()) each body's ack arrived, by the body's index.
    acked_at: dict[int, float] = field(default_factory=dict)
    # How many answers contained `marker` (when one was given).
    marked: int = 0

    @property
    def over(self) -> int:
        return sum(1 for x in self.latencies if x > 3.0) + self.errors


async def _fire(
    url: str, secret: str, bodies: list[bytes], concurrency: int, marker: bytes | None = None
) -> dict[str, Any]:
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    acked_at: dict[int, float] = {}
    marked = 0
    errors = 0
    queue = iter(enumerate(bodies))
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency)

    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def worker() -> None:
            nonlocal errors, marked
            for index, body in queue:
                ts = str(int(time.time()))
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Slack-Request-Timestamp": ts,
                    "X-Slack-Signature": compute_signature(secret, ts, body),
                }
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        answer = await resp.read()
                        acked_at[index] = time.time()
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1
                        if marker is not None and marker in answer:
                            marked += 1
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return {
        "latencies": latencies,
        "statuses": statuses,
        "errors": errors,
        "wall": wall,
        "acked_at": acked_at,
        "marked": marked,
    }


def _child(
    url: str, secret: str, path: str, concurrency: int, out: str, marker: bytes | None
) -> None:
    bodies = [line.encode() for line in Path(path).read_text().splitlines()]
    result = asyncio.run(_fire(url, secret, bodies, concurrency, marker))
    Path(out).write_text(json.dumps(result))


async def fire_from_child(
    url: str, secret: str, bodies: Sequence[bytes], concurrency: int, marker: bytes | None = None
) -> LoadResult:
    """POST every body (form-encoded, signed at send time) with `concurrency` in flight, from a
    separate process; returns per-request latencies as the client saw them."""
    with tempfile.TemporaryDirectory(prefix="consultbot-load-") as tmp:
        path, out = Path(tmp) / "bodies", Path(tmp) / "result.json"
        path.write_text("\n".join(b.decode() for b in bodies))
        ctx = multiprocessing.get_context("spawn")
        proc = ctx.Process(
            target=_child, args=(url, secret, str(path), concurrency, str(out), marker)
        )
        proc.start()
        await asyncio.to_thread(proc.join)
        if proc.exitcode != 0:
            raise RuntimeError(f"load generator exited with {proc.exitcode}")
        data = json.loads(out.read_text())
    return LoadResult(
        latencies=data["latencies"],
        statuses={int(k): v for k, v in data["statuses"].items()},
        errors=data["errors"],
        wall=data["wall"],
        acked_at={int(k): v for k, v in data["acked_at"].items()},
        marked=data["marked"],
    )


# --- figures ---------------------------------------------------------------------------------


def percentile(values: Iterable[float], p: float) -> float:
    data = sorted(values)
    if not data:
        return float("nan")
    if len(data) == 1:
        return data[0]
    return statistics.quantiles(data, n=1000, method="inclusive")[int(p * 10) - 1]


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join([line, rule, *body])


def log_like_production(path: Path) -> None:
    """Log as `consultbot run` does (bot.app.logs: INFO, one line per request), into a file: the
    cost of the request log is part of what is measured, but the terminal shows only the
    figures."""
    import logging

    from bot.app.logs import configure_logging

    configure_logging(logging.FileHandler(path))


def zone_at_midday() -> str:
    """A fixed-offset zone where it is now about 13:00, so reminder DMs are inside working hours
    (09:00-18:00 in the member's zone) whenever the benchmark runs."""
    from datetime import UTC, datetime

    offset = (13 - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}"
