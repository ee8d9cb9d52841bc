"""Writing the draft formal response: gathered, built and checked (bot.reporting.drafting), then
written as Markdown (plus a ``charts/`` folder) or Word (bot.reporting.exports.draft_docx)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from bot.reporting.aggregation import DEFAULT_MIN_GROUP
from bot.reporting.drafting import build_draft, gather, render_markdown, verify_figures
from bot.reporting.exports.draft_docx import render_docx
from bot.reporting.llm_coding import LlmEndpoint
from bot.reporting.scope import Filters


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(data)
    temporary.replace(path)


async def write_draft(
    db: Any,
    consultation_id: str,
    fmt: Literal["md", "docx"],
    out_path: Path,
    *,
    filters: Filters | None = None,
    progress: Callable[[str], Any] | None = None,
    llm: LlmEndpoint | None = None,
    network_members: Mapping[str, int] | None = None,
    organisation: str | None = None,
    min_group: int = DEFAULT_MIN_GROUP,
) -> list[Path]:
    """Write the draft response for ``consultation_id`` and return the files written.

    Markdown writes ``out_path`` and a ``charts/`` folder of PNGs beside it; Word writes one
    file. ``out_path`` may be a directory, in which case the file is named after the
    consultation. Nothing is written unless every figure passes ``verify_figures``.
    """
    if fmt not in ("md", "docx"):
        raise ValueError(f"the draft response is written as md or docx, not {fmt!r}")
    out_path = Path(out_path)
    if out_path.is_dir():
        out_path = out_path / f"{consultation_id}-draft-response.{fmt}"
    export, comments, meta, network_names, region_names = await gather(
        db,
        consultation_id,
        filters=filters or Filters(),
        network_members=network_members,
        organisation=organisation,
        progress=progress,
        min_group=min_group,
        llm=llm,
    )

    def build_and_render() -> dict[Path, bytes]:
        if progress is not None:
            progress("Drafting and drawing charts")
        draft = build_draft(
            export,
            comments,
            consultation_meta=meta,
            network_names=network_names,
            region_names=region_names,
        )
        if progress is not None:
            progress("Checking every figure against the data")
        verify_figures(draft, export)
        if progress is not None:
            progress("Writing the document")
        if fmt == "docx":
            return {out_path: render_docx(draft)}
        text, files = render_markdown(draft)
        written = {out_path.parent / rel: png for rel, png in files.items()}
        written[out_path] = text.encode("utf-8")
        return written

    outputs = await asyncio.to_thread(build_and_render)
    for path, data in outputs.items():
        _write_atomic(path, data)
    if progress is not None:
        progress("Done")
    return [out_path, *sorted(p for p in outputs if p != out_path)]
