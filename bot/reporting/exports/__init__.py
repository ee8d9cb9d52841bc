"""Exports of a consultation: data files (JSON, CSV, XLSX in `bot.reporting.exports.data`) and the draft
formal response (Markdown, Word in `bot.reporting.drafting`). `write_export` is the one entry point the
CLI, Slack's `/consult export` and the demo share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.core.audit import record_now
from bot.reporting.aggregation import DEFAULT_MIN_GROUP
from bot.reporting.llm_coding import LlmEndpoint
from bot.reporting.scope import Filters
from storage.db import Database
from storage.models import Network, Region

FORMATS = ("docx", "md", "csv", "xlsx", "json")
Progress = Callable[[str], Any]


class ExportError(Exception):
    """A user error (unknown region, unwritable path…); the message is one line."""


async def write_export(
    db: Database,
    consultation_id: str,
    fmt: str,
    target: Path,
    *,
    filters: Filters | None = None,
    network_members: Mapping[str, int] | None = None,
    organisation: str | None = None,
    progress: Progress | None = None,
    actor: str | None = None,
    min_group: int = DEFAULT_MIN_GROUP,
    llm: LlmEndpoint | None = None,
) -> list[Path]:
    """Write one export to `target` (a file, or a directory to name it in); the files written.

    `filters` is whose answers it holds (None: everyone's).
    Audited (who: `actor`, e.g. a Slack user id or `cli:<account>`; the format and filters)
    before anything is written: "who has seen the responses?" must have every answer."""
    from bot.consultations.catalogue import get_consultation
    from bot.reporting.aggregation import aggregate
    from bot.reporting.codebook import add_themes
    from bot.reporting.exports.data import export_csv, export_json, export_xlsx
    from bot.reporting.suppression import ScopeWithheld, withheld_text

    if fmt not in FORMATS:
        raise ExportError(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})")
    say = progress or (lambda _: None)
    filters = filters or Filters()
    region, network = filters.region, filters.network
    consultation = await get_consultation(db, consultation_id)
    async with db.session() as session:
        networks = set((await session.exec(select(Network.id))).all())
        known_regions = set((await session.exec(select(Region.id))).all())
    if region is not None and region not in known_regions and region != "unknown":
        raise ExportError(
            f"unknown region '{region}' (known: {', '.join(sorted(known_regions)) or 'none'})"
        )
    if network is not None and network not in networks:
        raise ExportError(
            f"unknown network '{network}' (known: {', '.join(sorted(networks)) or 'none'})"
        )
    if target.is_dir():
        target = target / f"{consultation_id}.{fmt}"
    await record_now(
        db,
        actor,
        "export",
        consultation_id,
        format=fmt,
        region=region,
        network=network,
        regions=sorted(filters.regions) if filters.regions is not None else None,
    )

    if fmt in ("md", "docx"):
        from bot.reporting.drafting import FigureCheckError
        from bot.reporting.exports.draft import write_draft

        try:
            written = await write_draft(
                db,
                consultation_id,
                fmt,  # type: ignore[arg-type]
                target,
                filters=filters,
                network_members=network_members,
                organisation=organisation,
                progress=say,
                min_group=min_group,
                llm=llm,
            )
        except FigureCheckError as exc:
            raise ExportError(
                f"the draft was not written: a figure failed its check ({exc})"
            ) from None
        except ScopeWithheld as exc:
            raise ExportError(f"nothing exported: {exc}") from None
        except OSError as exc:
            raise ExportError(f"cannot write {target} ({exc.strerror})") from None
        return [Path(p) for p in written]

    say("aggregating")
    result = await aggregate(
        db,
        consultation_id,
        filters=filters,
        network_members=network_members,
        min_group=min_group,
    )
    if result.withheld:
        raise ExportError(f"nothing exported: {withheld_text(min_group)}")
    if fmt == "json":
        say("finding themes")
        await add_themes(db, result, consultation=consultation, llm=llm)
        data = export_json(result)
    elif fmt == "csv":
        say("writing rows")
        data = await export_csv(db, consultation_id, filters, min_group=min_group, llm=llm)
    else:
        say("writing the workbook")
        data = await export_xlsx(
            db, consultation_id, filters, summary=result, min_group=min_group, llm=llm
        )
    try:
        await asyncio.to_thread(_write, target, data)
    except OSError as exc:
        raise ExportError(f"cannot write {target} ({exc.strerror})") from None
    return [target]


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
