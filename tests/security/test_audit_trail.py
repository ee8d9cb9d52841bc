"""Finding 7: staff can answer "who saw the responses?": exports (who, format, filters),
summaries (who, region), shares and every lifecycle action are in the audit log, and
`consultbot audit [ID] [--since DATE]` prints them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from bot.app.cli import app
from bot.core.audit import read_audit
from bot.core.permissions import Actor
from bot.core.settings import Settings
from bot.reporting.exports import write_export
from bot.reporting.scope import Filters
from bot.reporting.summary import build_summary, share_summary
from storage.db import Database
from tests.conftest import wired_services
from tests.unit.bot.reporting.test_aggregation import poll


async def _cli(args: list[str]) -> Result:
    # The CLI runs its own event loop: in a thread, as from a shell.
    return await asyncio.to_thread(CliRunner().invoke, app, args)


async def test_exports_summaries_and_shares_are_audited_and_printed(
    db: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await poll(db, anonymous=False)
    services = wired_services(db, Settings(SLACK_BOT_TOKEN="x"))
    await write_export(
        db, "poll", "csv", tmp_path / "a.csv", filters=Filters(region="london"), actor="U01STAFF"
    )
    lead = Actor("U0LEAD", lead_regions=frozenset({"london"}))
    await build_summary(services, lead, "poll", None)
    await share_summary(services, lead, "poll", None, "C01ICS", click_id="1.2")
    entries = [(e.actor, e.action, e.detail) for e in await read_audit(db, "poll")]
    assert ("U01STAFF", "export") in [(a, b) for a, b, _ in entries]
    export = next(d for a, b, d in entries if b == "export")
    assert export["format"] == "csv" and export["region"] == "london"
    summary = next(d for a, b, d in entries if b == "summary")
    assert summary["regions"] == ["london"]
    share = next((a, d) for a, b, d in entries if b == "summary.share")
    assert share == ("U0LEAD", {"region": None, "channel": "C01ICS"})

    monkeypatch.setenv("DATABASE_URL", database_url)
    printed = await _cli(["audit", "poll", "--since", "2000-01-01"])
    assert printed.exit_code == 0, printed.output
    for word in ("export", "summary", "summary.share", "U01STAFF", "U0LEAD"):
        assert word in printed.output
    later = await _cli(["audit", "--since", "2999-01-01"])
    assert later.exit_code == 0 and "No audit entries" in later.output
    bad = await _cli(["audit", "--since", "soon"])
    assert bad.exit_code == 1
