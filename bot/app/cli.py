"""`consultbot` command line (docs/contracts.md, Command line). Exit codes: 0 ok, 1 user error (one line), 2 usage."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from bot.consultations.catalogue import ConsultationError, add_consultation, list_consultations
from bot.consultations.directory import load_directory
from bot.consultations.files import FileFormatError, load_consultation_file, load_directory_file
from bot.core.audit import cli_actor
from bot.core.services import Services
from bot.core.settings import MissingSetting, Settings
from bot.core.timefmt import human_deadline
from storage.db import Database
from storage.migrate import UpgradeBlocked

app = typer.Typer(
    name="consultbot",
    help="Run consultations in Slack and draft the formal response.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
directory_app = typer.Typer(help="Networks, regions, leads and staff.", no_args_is_help=True)
consultation_app = typer.Typer(help="Define and manage consultations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(directory_app, name="directory")
app.add_typer(consultation_app, name="consultation")

console = Console()
errors = Console(stderr=True)
T = TypeVar("T")


class UserError(Exception):
    """Shown as one line on stderr, exit code 1."""


def fail(message: str) -> None:
    errors.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(make())  # type: ignore[arg-type]
    except FileFormatError as exc:
        # One line per problem, all of them, so a user fixes the file in one go.
        errors.print(f"[red]error:[/red] {exc.source} has {len(exc.problems)} problem(s):")
        for problem in exc.problems:
            errors.print(f"  {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except (UserError, ConsultationError, MissingSetting, UpgradeBlocked) as exc:
        fail(str(exc))
    raise AssertionError("unreachable")


def settings() -> Settings:
    return Settings()


async def _with_db(work: Callable[[Database], Awaitable[T]]) -> T:
    from bot.app.runtime import prepare_database

    config = settings()
    db = Database(config.database_url)
    try:
        await prepare_database(db, anon_secret=config.anon_key)
        return await work(db)
    finally:
        await db.dispose()


async def _with_services(work: Callable[[Services], Awaitable[T]]) -> T:
    """Run `work` with the services a running bot has (no outbox worker or ticker: the running
    bot sends what is queued), wired by the composition root like any process."""
    from bot.app.wiring import build_services
    from bot.slack.client import make_client

    config = settings()

    async def with_db(db: Database) -> T:
        token = config.slack_bot_token.get_secret_value() if config.slack_bot_token else ""
        services = build_services(config, db, make_client(token, config.slack_api_url))
        return await work(services)

    return await _with_db(with_db)


# --- db ---


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    from storage.migrate import current_revision, upgrade

    config = settings()

    async def work() -> Any:
        db = Database(config.database_url)
        try:
            await upgrade(db, anon_secret=config.anon_key)
            return await current_revision(db)
        finally:
            await db.dispose()

    revision = run_async(work)
    console.print(f"Database is at revision {revision}.")


@db_app.command("stored-key")
def db_stored_key() -> None:
    """Print the anonymity key an older consultbot kept in the database (to move it out)."""
    from storage.migrate import stored_key

    async def work() -> str | None:
        db = Database(settings().database_url)
        try:
            return await stored_key(db)
        finally:
            await db.dispose()

    key = run_async(work)
    if key is None:
        fail("this database keeps no anonymity key; nothing to move")
    # Plain, on its own line, so it can be piped into a secrets store.
    print(key)


# --- directory ---


@directory_app.command("load")
def directory_load(
    file: Annotated[
        Path, typer.Argument(help="Directory YAML (docs/contracts.md, Directory file).")
    ],
) -> None:
    """Load or refresh networks, regions, leads, staff and member profiles."""
    directory = run_async(lambda: _parse(lambda: load_directory_file(file)))
    result = run_async(lambda: _with_db(lambda db: load_directory(db, directory)))
    console.print(
        f"Loaded {result.networks} networks, {result.regions} regions, {result.leads} leads, "
        f"{result.staff} staff and {result.members} member profiles."
    )


async def _parse(parse: Callable[[], T]) -> T:
    return parse()


# --- consultation ---


@consultation_app.command("add")
def consultation_add(
    file: Annotated[
        Path, typer.Argument(help="Consultation YAML (docs/contracts.md, Consultation file).")
    ],
) -> None:
    """Add a consultation from a file (nothing is stored if the file has problems)."""
    spec = run_async(lambda: _parse(lambda: load_consultation_file(file)))
    config = settings()
    consultation = run_async(
        lambda: _with_db(lambda db: add_consultation(db, spec, default_timezone=config.timezone))
    )
    console.print(
        f"Added [bold]{consultation.id}[/bold] with {len(spec.questions)} questions; "
        f"deadline {human_deadline(consultation.deadline, consultation.timezone)}."
    )


@consultation_app.command("list")
def consultation_list() -> None:
    """List consultations with status, deadline and respondents."""
    items = run_async(lambda: _with_db(list_consultations))
    if not items:
        console.print("No consultations yet. Add one with: consultbot consultation add FILE")
        return
    table = Table("id", "title", "status", "deadline", "questions", "respondents")
    for item in items:
        c = item.consultation
        status = c.status
        if c.status == "draft" and c.launch_at is not None:
            status = f"scheduled for {human_deadline(c.launch_at, c.timezone)}"
        table.add_row(
            c.id,
            c.title,
            status,
            human_deadline(c.deadline, c.timezone),
            str(item.question_count),
            str(item.respondents),
        )
    console.print(table)


# --- consultation lifecycle: launch, close, extend (bot/consultations/) ---


@consultation_app.command("launch")
def consultation_launch(
    consultation_id: Annotated[str, typer.Argument(help="Consultation id.")],
) -> None:
    """Open a consultation and queue its posts; the running bot delivers them."""
    from bot.consultations.launch import start_launch

    started = run_async(
        lambda: _with_services(
            lambda services: start_launch(services, consultation_id, actor=cli_actor())
        )
    )
    console.print(
        f"Launched [bold]{consultation_id}[/bold]: {started.newly_queued} of "
        f"{len(started.networks)} network posts queued; the running bot posts them."
    )


@consultation_app.command("close")
def consultation_close(
    consultation_id: Annotated[str, typer.Argument(help="Consultation id.")],
) -> None:
    """Close a consultation now: posts say Closed, no more answers, reminders cancelled."""
    from bot.consultations.lifecycle import close_consultation

    closed = run_async(
        lambda: _with_services(
            lambda services: close_consultation(services, consultation_id, actor=cli_actor())
        )
    )
    if closed.closed_now:
        console.print(f"Closed [bold]{consultation_id}[/bold]; the running bot updates the posts.")
    else:
        console.print(f"{consultation_id} was already closed.")


@consultation_app.command("extend")
def consultation_extend(
    consultation_id: Annotated[str, typer.Argument(help="Consultation id.")],
    deadline: Annotated[
        str,
        typer.Argument(
            help="New deadline: 2021-01-15 (17:00 local), 2021-01-15T12:00 (local unless it "
            "has an offset) or +3d."
        ),
    ],
) -> None:
    """Move the deadline (a closed consultation reopens) and re-plan the reminders."""
    from bot.consultations.lifecycle import extend_consultation

    extended = run_async(
        lambda: _with_services(
            lambda services: extend_consultation(
                services, consultation_id, deadline, actor=cli_actor()
            )
        )
    )
    c = extended.consultation
    verb = "Reopened" if extended.reopened else "Extended"
    console.print(
        f"{verb} [bold]{c.id}[/bold]: it now closes on {human_deadline(c.deadline, c.timezone)}."
    )


# --- end of consultation lifecycle ---

# --- answers import and export ---

answers_app = typer.Typer(help="Answers that arrived outside Slack.", no_args_is_help=True)
app.add_typer(answers_app, name="answers")


@answers_app.command("import")
def answers_import(
    consultation_id: Annotated[str, typer.Argument(metavar="ID", help="Consultation id.")],
    file: Annotated[Path, typer.Argument(help="CSV in the export's columns.")],
) -> None:
    """Add answers gathered by email or forms (idempotent per respondent)."""
    from bot.answering.importing import ImportFileError, import_answers, read_file

    config = settings()

    async def work(db: Database) -> Any:
        try:
            text = read_file(file)
            return await import_answers(db, consultation_id, text, anon_secret=config.anon_key)
        except ImportFileError as exc:
            raise UserError(f"{file}: {exc}") from None

    report = run_async(lambda: _with_db(work))
    console.print(report.summary(), highlight=False)
    for problem in report.problems:
        console.print(f"  {problem}", highlight=False, soft_wrap=True)
    if report.respondents == 0 and report.problems:
        fail(f"nothing imported from {file}: every row has a problem (listed above)")


class ExportFormat(StrEnum):
    docx = "docx"
    md = "md"
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


@app.command("export")
def export(
    consultation_id: Annotated[str, typer.Argument(metavar="ID", help="Consultation id.")],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="What to write.", case_sensitive=False)
    ],
    out: Annotated[
        str, typer.Option("--out", "-o", help="File to write, or a directory (ending in /).")
    ],
    region: Annotated[
        str | None, typer.Option("--region", help="Only respondents in this region.")
    ] = None,
    network: Annotated[
        str | None, typer.Option("--network", help="Only respondents in this network.")
    ] = None,
) -> None:
    """Export the aggregated responses (json), every answer (csv, xlsx) or the draft (md, docx)."""
    config = settings()
    path = Path(out)
    if out.endswith(("/", "\\")) or path.is_dir():
        path = path / f"{consultation_id}.{fmt.value}"

    async def work(db: Database) -> list[Path]:
        return await _export(db, config, consultation_id, fmt.value, path, region, network)

    for written in run_async(lambda: _with_db(work)):
        console.print(f"Wrote {written}", highlight=False)


@app.command("themes")
def themes(
    consultation_id: Annotated[str, typer.Argument(metavar="ID", help="Consultation id.")],
    question: Annotated[
        str | None, typer.Option("--question", "-q", help="Only this question (its id).")
    ] = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Code the comments again (staff edits are kept).")
    ] = False,
) -> None:
    """Show the theme codebook of each question: label, description, count, stance mix."""
    from bot.reporting.codebook import CodebookError, has_comments, review
    from bot.reporting.llm_coding import LlmEndpoint

    llm = LlmEndpoint.from_settings(settings())

    async def work(db: Database) -> list[Any]:
        from bot.consultations.catalogue import get_consultation

        consultation = await get_consultation(db, consultation_id)
        keys = (
            [question] if question else [q.key for q in consultation.questions if has_comments(q)]
        )
        try:
            return [await review(db, consultation_id, k, llm=llm, refresh=refresh) for k in keys]
        except CodebookError as exc:
            raise UserError(str(exc)) from None

    reviews = run_async(lambda: _with_db(work))
    if not reviews:
        console.print(f"{consultation_id} asks for no comments, so it has no themes.")
    for found in reviews:
        table = Table(
            "id", "label", "description", "count", "stance", "edited",
            title=f"{found.question.key}: {found.question.text}",
            caption=(
                f"{found.comments} comments; {found.other_points} among the other points; "
                f"coded {'by the model' if found.engine == 'llm' else 'offline'}"
            ),
        )  # fmt: skip
        for theme in found.themes:
            stance = ", ".join(f"{n} {k}" for k, n in theme.stance.items()) if theme.stance else ""
            table.add_row(
                theme.id,
                theme.label,
                theme.description,
                str(theme.count),
                stance,
                "yes" if theme.edited else "",
            )
        console.print(table)


async def _export(
    db: Database,
    config: Settings,
    consultation_id: str,
    fmt: str,
    target: Path,
    region: str | None,
    network: str | None,
) -> list[Path]:
    """Write the export to `target` with a progress bar; the files written."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from sqlmodel import select

    from bot.consultations.catalogue import get_consultation
    from bot.core.audit import cli_actor
    from bot.reporting.exports import ExportError, write_export
    from bot.reporting.llm_coding import LlmEndpoint
    from bot.reporting.scope import Filters
    from storage.models import Network

    consultation = await get_consultation(db, consultation_id)
    async with db.session() as session:
        channels = {n.id: n.channel_id for n in (await session.exec(select(Network))).all()}
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    ) as progress:
        stage = progress.add_task(f"Exporting {consultation_id} as {fmt}", total=None)
        members = await _channel_members(config, consultation.consultation.networks, channels)
        try:
            return await write_export(
                db,
                consultation_id,
                fmt,
                target,
                filters=Filters(region=region, network=network),
                network_members=members,
                organisation=config.organisation,
                progress=lambda text: progress.update(stage, description=text),
                actor=cli_actor(),
                min_group=config.min_group,
                llm=LlmEndpoint.from_settings(config),
            )
        except ExportError as exc:
            raise UserError(str(exc)) from None


async def _channel_members(
    config: Settings, targets: list[str] | None, channels: dict[str, str]
) -> dict[str, int] | None:
    """Channel membership per network from Slack when a bot token is set; None otherwise."""
    if config.slack_bot_token is None or not config.slack_bot_token.get_secret_value():
        return None
    from bot.slack.client import make_client
    from bot.slack.membership import ChannelMembers, network_people_counts
    from bot.slack.people import WorkspacePeople

    client = make_client(config.slack_bot_token.get_secret_value(), config.slack_api_url)
    wanted = {n: channels[n] for n in (targets or channels) if n in channels}
    counts = await network_people_counts(ChannelMembers(client), WorkspacePeople(client), wanted)
    return counts or None


# --- audit ---


def parse_since(text: str, timezone: str) -> datetime:
    """`2021-01-15` (midnight, local) or `2021-01-15T12:00` (local unless it has an offset)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"--since {text!r} is not a date; use 2021-01-15 or 2021-01-15T12:00"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(timezone))
    return when.astimezone(UTC)


@app.command("audit")
def audit(
    consultation_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Only this consultation.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this date (2021-01-15, local time) or time on."),
    ] = None,
) -> None:
    """Who launched, closed, extended, exported, summarised, shared or edited themes, and when."""
    import json

    from bot.core.audit import read_audit

    config = settings()

    async def work(db: Database) -> Any:
        start = parse_since(since, config.timezone) if since else None
        return await read_audit(db, consultation_id, start)

    entries = run_async(lambda: _with_db(work))
    if not entries:
        console.print("No audit entries" + (f" for {consultation_id}" if consultation_id else ""))
        return
    zone = ZoneInfo(config.timezone)
    table = Table("When", "Who", "What", "Consultation", "Detail")
    for entry in entries:
        detail = {k: v for k, v in entry.detail.items() if v not in (None, [], {})}
        table.add_row(
            entry.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            entry.actor or "consultbot",
            entry.action,
            entry.consultation_id or "",
            json.dumps(detail, sort_keys=True) if detail else "",
        )
    console.print(table)


# --- demo ---


@app.command("demo")
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for transcript.md and the exports.")
    ] = Path("demo-output"),
) -> None:
    """The whole flow offline on SQLite and the sandbox Slack, in about a minute."""
    import time

    from bot.demo.run import run_demo

    started = time.monotonic()

    def say(step: str) -> None:
        console.print(f"[dim]{time.monotonic() - started:5.1f}s[/dim]  {step}", highlight=False)

    logging.basicConfig(level=logging.ERROR)
    result = run_async(lambda: run_demo(out, say))
    console.print(
        f"\n[bold]Done in {time.monotonic() - started:.0f}s.[/bold] {result.respondents} members "
        f"answered ({result.edits} edited). Wrote to {out}/:",
        highlight=False,
    )
    for path in sorted({p for p in result.files}):
        console.print(f"  {path}", highlight=False)


# --- run ---


@app.command("run")
def run(
    http: Annotated[
        bool, typer.Option("--http", help="Serve HTTP instead of Socket Mode.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="HTTP port.")] = 3000,
    host: Annotated[str, typer.Option("--host", help="HTTP bind address.")] = "0.0.0.0",
) -> None:
    """Run the bot (Socket Mode, or HTTP serving POST /slack/events and GET /healthz)."""
    from bot.app.runtime import Runtime, RuntimeOptions

    config = settings()
    try:
        config.require_for_run(http=http)
    except MissingSetting as exc:
        fail(str(exc))
    _configure_logging()

    async def serve() -> None:
        runtime = Runtime(config, RuntimeOptions(freeze_startup_heap=True))
        try:
            if http:
                server = await runtime.start_http(host=host, port=port)
                logging.getLogger("consultbot").info("serving on %s", server.url)
                await asyncio.Event().wait()
            else:
                await runtime.run_socket_mode()
        finally:
            await runtime.stop()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


def _configure_logging() -> None:
    from bot.app.logs import configure_logging

    configure_logging()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
