"""Data exports: the aggregate as JSON (docs/contracts.md, Export JSON), and every answer as CSV or XLSX.

CSV and XLSX hold one row per respondent and question, in columns the import reads back
(`bot.answering.importing`). Anonymous consultations get a stable "R0001" number instead of the
respondent key and have no name or organisation columns at all.

Spreadsheet formula injection (OWASP "CSV Injection"): in CSV a text cell beginning with
`=`, `+`, `-`, `@`, tab or carriage return gets a leading apostrophe (`neutralise`, reversed by
`restore` on import); in XLSX every text cell is written as a string cell, never a formula.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select

from bot.answering.sheet import (
    ANSWER,
    ANSWER_VALUE,
    COMMENT,
    CONSULTATION,
    LAST_EDITED,
    LIST_SEPARATOR,
    MATRIX_ROW,
    NAME,
    NETWORKS,
    ORGANISATION,
    QUESTION,
    QUESTION_ID,
    QUOTE_CONSENT,
    REGION,
    RESPONDENT,
    REVISIONS,
    SOURCE,
    SUBMITTED,
    THEMES,
    columns,
    neutralise,
    restore,
)
from bot.consultations.catalogue import ConsultationView, get_consultation
from bot.core.vocabulary import GROUP_DESCRIPTIONS
from bot.reporting.aggregation import (
    DEFAULT_MIN_GROUP,
    Aggregate,
    aggregate,
    scope_clauses,
    utc_iso,
)
from bot.reporting.codebook import Codebook, ensure_codebook, has_comments
from bot.reporting.llm_coding import LlmEndpoint
from bot.reporting.scope import Filters
from bot.reporting.suppression import OTHER, coarsen
from storage.db import Database
from storage.models import Answer, AnswerSelection, Network, Region, Response, ResponseNetwork

# `restore` is named here too: tests and scripts read an export back with the module that wrote it.
__all__ = [
    "columns",
    "export_csv",
    "export_json",
    "export_rows",
    "export_xlsx",
    "neutralise",
    "restore",
]

RESPONSE_BATCH = 1000

_WIDTHS = {
    CONSULTATION: 18,
    RESPONDENT: 16,
    NAME: 22,
    ORGANISATION: 28,
    NETWORKS: 28,
    REGION: 18,
    QUESTION_ID: 12,
    QUESTION: 50,
    MATRIX_ROW: 40,
    ANSWER: 24,
    ANSWER_VALUE: 20,
    COMMENT: 80,
    THEMES: 40,
    QUOTE_CONSENT: 14,
    SOURCE: 10,
    SUBMITTED: 26,
    LAST_EDITED: 26,
    REVISIONS: 10,
}


# --- JSON ------------------------------------------------------------------------------------


def export_json(result: Aggregate) -> bytes:
    """The export JSON: the typed aggregate becomes a dict here, at the edge, and nowhere else."""
    return (json.dumps(result.to_export_json(), indent=2, ensure_ascii=False) + "\n").encode(
        "utf-8"
    )


# --- rows ------------------------------------------------------------------------------------


async def iter_export_rows(
    db: Database,
    consultation_id: str,
    filters: Filters | None = None,
    *,
    consultation: ConsultationView | None = None,
    batch_size: int = RESPONSE_BATCH,
    min_group: int = DEFAULT_MIN_GROUP,
    llm: LlmEndpoint | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Rows (dicts keyed by `columns(...)`) in batches of respondents, in respondent order.

    Anonymous: a respondent's networks and region are shown only where at least `min_group`
    respondents in scope share them (bot.reporting.suppression.coarsen), else "other"."""
    filters = filters or Filters()
    consultation = consultation or await get_consultation(db, consultation_id)
    # The themes column comes from the same codebooks as the summary and the draft.
    codebooks: dict[int, Codebook] = {
        q.id: await ensure_codebook(db, consultation, q.key, llm=llm)
        for q in consultation.questions
        if has_comments(q)
    }
    c = consultation.consultation
    anonymous = c.anonymous
    questions = {q.id: q for q in consultation.questions}
    position = {q.id: i for i, q in enumerate(consultation.questions)}
    has_matrix = any(q.kind == "matrix" for q in consultation.questions)
    async with db.engine.connect() as conn:
        network_names = dict((await conn.execute(select(Network.id, Network.name))).all())
        region_names = dict((await conn.execute(select(Region.id, Region.name))).all())
    shown: dict[int, tuple[str, str]] | None = None
    if anonymous:
        shown = await _coarsened_identities(
            db, consultation_id, filters, network_names, region_names, min_group
        )
    # A stable number per respondent of the whole consultation, whatever the filters.
    numbered = (
        select(
            Response.id.label("rid"),  # type: ignore[union-attr]
            func.row_number().over(order_by=Response.id).label("number"),
        )
        .where(Response.consultation_id == consultation_id)  # type: ignore[arg-type]
        .subquery()
    )
    last_id = 0
    while True:
        async with db.engine.connect() as conn:
            responses = (
                await conn.execute(
                    select(
                        Response.id,
                        Response.respondent_key,
                        Response.user_id,
                        Response.display_name,
                        Response.organisation,
                        Response.region_id,
                        Response.quote_consent,
                        Response.source,
                        Response.submitted_at,
                        Response.updated_at,
                        Response.revision_count,
                        Response.current_revision_id,
                        numbered.c.number,
                    )
                    .join(numbered, numbered.c.rid == Response.id)
                    .where(*scope_clauses(consultation_id, filters), Response.id > last_id)  # type: ignore[operator]
                    .order_by(Response.id)
                    .limit(batch_size)
                )
            ).all()
            if not responses:
                return
            revision_ids = [r.current_revision_id for r in responses]
            answers = (
                await conn.execute(
                    select(
                        Answer.id,
                        Answer.revision_id,
                        Answer.question_id,
                        Answer.choice,
                        Answer.comment,
                    )
                    .where(
                        Answer.revision_id.in_(revision_ids),  # type: ignore[attr-defined]
                        Answer.question_id.in_(list(questions)),  # type: ignore[attr-defined]
                    )
                    .order_by(Answer.revision_id, Answer.id)
                )
            ).all()
            selections: dict[int, list[str]] = {}
            matrix_choices: dict[int, dict[str, str]] = {}
            multi = [
                a.id for a in answers if questions[a.question_id].kind in ("multi_choice", "matrix")
            ]
            if multi:
                for answer_id, value, choice in await conn.execute(
                    select(
                        AnswerSelection.answer_id, AnswerSelection.value, AnswerSelection.choice
                    ).where(
                        AnswerSelection.answer_id.in_(multi)  # type: ignore[attr-defined]
                    )
                ):
                    if choice is None:
                        selections.setdefault(answer_id, []).append(value)
                    else:
                        matrix_choices.setdefault(answer_id, {})[value] = choice
            networks: dict[int, list[str]] = {}
            for response_id, network_id in await conn.execute(
                select(ResponseNetwork.response_id, ResponseNetwork.network_id).where(
                    ResponseNetwork.response_id.in_([r.id for r in responses])  # type: ignore[attr-defined]
                )
            ):
                networks.setdefault(response_id, []).append(network_id)
        by_revision: dict[int, list[Any]] = {}
        for answer in answers:
            by_revision.setdefault(answer.revision_id, []).append(answer)
        batch: list[dict[str, Any]] = []
        for r in responses:
            if anonymous:
                respondent = f"R{r.number:04d}"
            else:
                respondent = r.user_id or r.respondent_key.removeprefix("import:")
            network_list = LIST_SEPARATOR.join(
                sorted((network_names.get(n, n) for n in networks.get(r.id, [])), key=str.lower)
            )
            region = region_names.get(r.region_id, r.region_id) if r.region_id else ""
            if shown is not None:
                network_list, region = shown.get(r.id, (OTHER, OTHER))
            for answer in sorted(
                by_revision.get(r.current_revision_id, []), key=lambda a: position[a.question_id]
            ):
                question = questions[answer.question_id]
                # A matrix answer gives one row per matrix row (its comment on the first).
                parts: list[tuple[str | None, list[str], str]] = []
                if question.kind == "matrix":
                    chosen = matrix_choices.get(answer.id, {})
                    for matrix_row in question.rows:
                        if matrix_row.value in chosen:
                            comment = "" if parts else (answer.comment or "")
                            parts.append((matrix_row.text, [chosen[matrix_row.value]], comment))
                    if not parts and answer.comment:
                        parts.append(("", [], answer.comment))
                elif question.kind == "multi_choice":
                    values = sorted(
                        selections.get(answer.id, []),
                        key=lambda v: (
                            [o.value for o in question.options].index(v)
                            if v in [o.value for o in question.options]
                            else len(question.options)
                        ),
                    )
                else:
                    values = [answer.choice] if answer.choice else []
                if question.kind != "matrix":
                    parts = [(None, values, answer.comment or "")]
                for matrix_row, values, comment in parts:
                    row: dict[str, Any] = {
                        CONSULTATION: c.id,
                        RESPONDENT: respondent,
                    }
                    when = _date_only if anonymous else utc_iso
                    if not anonymous:
                        row[NAME] = r.display_name or ""
                        row[ORGANISATION] = r.organisation or ""
                    if has_matrix:
                        row[MATRIX_ROW] = matrix_row or ""
                    row.update(
                        {
                            NETWORKS: network_list,
                            REGION: region,
                            QUESTION_ID: question.key,
                            QUESTION: question.text,
                            ANSWER: LIST_SEPARATOR.join(question.label_of(v) for v in values),
                            ANSWER_VALUE: LIST_SEPARATOR.join(values),
                            COMMENT: comment,
                            THEMES: LIST_SEPARATOR.join(
                                codebooks[question.id].labels_of(r.respondent_key)
                                if comment and question.id in codebooks
                                else ()
                            ),
                            QUOTE_CONSENT: r.quote_consent,
                            SOURCE: r.source,
                            # Anonymous: the date only; to the second, times line up with
                            # what people saw happen in Slack and could identify them.
                            SUBMITTED: when(r.submitted_at),
                            LAST_EDITED: when(r.updated_at),
                            REVISIONS: int(r.revision_count),
                        }
                    )
                    batch.append(row)
        yield batch
        last_id = responses[-1].id
        if len(responses) < batch_size:
            return


async def _coarsened_identities(
    db: Database,
    consultation_id: str,
    filters: Filters,
    network_names: Mapping[str, str],
    region_names: Mapping[str, str],
    min_group: int,
) -> dict[int, tuple[str, str]]:
    """Every respondent in scope -> (networks, region) as an anonymous sheet may show them."""
    async with db.engine.connect() as conn:
        regions = dict(
            (
                await conn.execute(
                    select(Response.id, Response.region_id).where(
                        *scope_clauses(consultation_id, filters)
                    )
                )
            ).all()
        )
        networks: dict[int, list[str]] = {}
        for response_id, network_id in await conn.execute(
            select(ResponseNetwork.response_id, ResponseNetwork.network_id)
            .join(Response, Response.id == ResponseNetwork.response_id)  # type: ignore[arg-type]
            .where(*scope_clauses(consultation_id, filters))
        ):
            networks.setdefault(response_id, []).append(network_id)
    people = {
        rid: (
            LIST_SEPARATOR.join(
                sorted((network_names.get(n, n) for n in networks.get(rid, [])), key=str.lower)
            ),
            region_names.get(region_id, region_id) if region_id else "",
        )
        for rid, region_id in regions.items()
    }
    return coarsen(people, min_group)


def _columns(consultation: ConsultationView) -> list[str]:
    matrix = any(q.kind == "matrix" for q in consultation.questions)
    return columns(consultation.consultation.anonymous, matrix=matrix)


def _date_only(moment: Any) -> str:
    return utc_iso(moment)[:10] if moment is not None else ""


async def export_rows(
    db: Database, consultation_id: str, filters: Filters | None = None
) -> list[dict[str, Any]]:
    """Every row of the export (see `iter_export_rows` for large consultations)."""
    rows: list[dict[str, Any]] = []
    async for batch in iter_export_rows(db, consultation_id, filters):
        rows.extend(batch)
    return rows


# --- CSV -------------------------------------------------------------------------------------


def _csv_cell(value: Any) -> Any:
    return neutralise(value) if isinstance(value, str) else value


async def export_csv(
    db: Database,
    consultation_id: str,
    filters: Filters | None = None,
    *,
    min_group: int = DEFAULT_MIN_GROUP,
    llm: LlmEndpoint | None = None,
) -> bytes:
    """UTF-8 with a byte order mark (so Excel reads the accents), one row per answer."""
    consultation = await get_consultation(db, consultation_id)
    header = _columns(consultation)
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    async for batch in iter_export_rows(
        db, consultation_id, filters, consultation=consultation, min_group=min_group, llm=llm
    ):
        writer.writerows([_csv_cell(row[col]) for col in header] for row in batch)
    return out.getvalue().encode("utf-8-sig")


# --- XLSX ------------------------------------------------------------------------------------


def _text_cell(ws: Any, value: Any, *, bold: bool = False, wrap: bool = False) -> WriteOnlyCell:
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        # Always text: "=HYPERLINK(...)" or "#N/A" stay what the member typed, never run.
        cell.data_type = "s"
    if bold:
        cell.font = Font(bold=True)
    if wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def _sheet(wb: Workbook, title: str, header: list[str], widths: Iterable[float]) -> Any:
    ws = wb.create_sheet(title)
    ws.freeze_panes = "A2"
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.append([_text_cell(ws, name, bold=True) for name in header])
    return ws


async def export_xlsx(
    db: Database,
    consultation_id: str,
    filters: Filters | None = None,
    *,
    summary: Aggregate | None = None,
    min_group: int = DEFAULT_MIN_GROUP,
    llm: LlmEndpoint | None = None,
) -> bytes:
    """A workbook with a "Responses" sheet (one row per answer) and a "Summary" sheet."""
    filters = filters or Filters()
    consultation = await get_consultation(db, consultation_id)
    if summary is None:
        summary = await aggregate(db, consultation_id, filters=filters, min_group=min_group)
    header = _columns(consultation)
    wb = Workbook(write_only=True)
    ws = _sheet(wb, "Responses", header, (_WIDTHS[c] for c in header))
    async for batch in iter_export_rows(
        db, consultation_id, filters, consultation=consultation, min_group=min_group, llm=llm
    ):
        for row in batch:
            ws.append([_text_cell(ws, row[c], wrap=c == COMMENT) for c in header])

    sheet = _sheet(
        wb,
        "Summary",
        ["question id", "question", "answer", "answer value", "count", "percentage", "answered"],
        (12, 50, 30, 20, 10, 12, 10),
    )
    for q in summary.questions:
        labels = q.labels
        for matrix_row in (q.rows or {}).values():
            for value, count in matrix_row.counts.items():
                sheet.append(
                    [
                        _text_cell(sheet, v)
                        for v in (
                            q.id,
                            f"{q.text} — {matrix_row.text}",
                            labels.get(value, value),
                            value,
                            count,
                            matrix_row.percentages[value],
                            matrix_row.answered,
                        )
                    ]
                )
        for value, count in q.counts.items():
            sheet.append(
                [
                    _text_cell(sheet, v)
                    for v in (
                        q.id,
                        q.text,
                        labels.get(value, value),
                        value,
                        count,
                        q.percentages[value],
                        q.answered,
                    )
                ]
            )
        if q.grouped is not None:
            for group, count in q.grouped.counts.items():
                sheet.append(
                    [
                        _text_cell(sheet, v)
                        for v in (
                            q.id,
                            q.text,
                            GROUP_DESCRIPTIONS[group],
                            group,
                            count,
                            q.grouped.percentages[group],
                            q.answered,
                        )
                    ]
                )
        if q.kind == "free_text":
            sheet.append(
                [
                    _text_cell(sheet, v)
                    for v in (q.id, q.text, "comments", "", q.comments, None, q.answered)
                ]
            )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
