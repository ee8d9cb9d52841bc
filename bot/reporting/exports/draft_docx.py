"""The draft formal response as a Word document (docs/contracts.md, The draft formal response), from a ``bot.reporting.drafting.Draft``.

Layout only: every sentence, heading and label comes from the draft (and so from
``prompts/drafting/wording.j2``), and every figure has been computed and checked before this runs.
Only styles present in python-docx's default template are used, so the file opens anywhere and
staff can restyle it through Word's own styles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from io import BytesIO
from typing import TYPE_CHECKING, Any, Final

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches, Pt

if TYPE_CHECKING:
    from bot.reporting.drafting import AppendixComment, Draft, QuestionDraft, Table

__all__ = ["TABLE_STYLE", "render_docx"]

TABLE_STYLE: Final = "Light Grid Accent 1"
CHART_WIDTH: Final = Inches(6)
#: Characters XML 1.0 cannot hold (members paste all sorts); Word would refuse the file.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

Run = tuple[str, bool]  # text, italic


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _append_paragraphs(doc: Any, paragraphs: Iterable[tuple[str | None, Sequence[Run]]]) -> None:
    """Append many simple paragraphs quickly: (style id, [(text, italic), ...]) each.

    python-docx's ``add_paragraph`` looks for the section properties from the start of the body
    and resolves the style by scanning every style, both for every paragraph, which takes
    minutes for tens of thousands of comments. Building the same ``w:p`` elements directly and
    inserting them before the section properties is linear.
    """
    body = doc.element.body
    section = body.find(qn("w:sectPr"))
    for style_id, runs in paragraphs:
        p = OxmlElement("w:p")
        if style_id:
            p_pr = OxmlElement("w:pPr")
            p_style = OxmlElement("w:pStyle")
            p_style.set(qn("w:val"), style_id)
            p_pr.append(p_style)
            p.append(p_pr)
        for text, italic in runs:
            r = OxmlElement("w:r")
            if italic:
                r_pr = OxmlElement("w:rPr")
                r_pr.append(OxmlElement("w:i"))
                r.append(r_pr)
            t = OxmlElement("w:t")
            t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
            t.text = _xml_text(text)
            r.append(t)
            p.append(r)
        if section is not None:
            section.addprevious(p)
        else:
            body.append(p)


def _paragraph(doc: Any, text: str, style: Any = None, *, italic: bool = False) -> Any:
    paragraph = doc.add_paragraph(style=style)
    run = paragraph.add_run(_xml_text(text))
    run.italic = italic or None
    return paragraph


def _table(doc: Any, table: Table) -> None:
    grid = doc.add_table(rows=1 + len(table.rows), cols=len(table.header))
    grid.style = doc.styles[TABLE_STYLE]
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    for i, heading in enumerate(table.header):
        cell = grid.rows[0].cells[i]
        cell.text = heading
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for r, row in enumerate(table.rows, start=1):
        cells = grid.rows[r].cells
        for i, value in enumerate(row):
            cells[i].text = value.text
            if i > 0:
                cells[i].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT


def _question(doc: Any, q: QuestionDraft, w: Any, styles: dict[str, Any]) -> None:
    doc.add_heading(str(w.question_heading(number=q.number, text=q.text)).strip(), level=1)
    headline = doc.add_paragraph()
    headline.add_run(" ".join(s.text for s in q.headline)).bold = True
    if q.chart is not None:
        doc.add_picture(BytesIO(q.chart.png), width=CHART_WIDTH)
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        _paragraph(doc, q.chart.alt, styles["Caption"])
    for table in q.tables:
        doc.add_heading(table.caption, level=2)
        _table(doc, table)
    for statement in q.differences:
        doc.add_paragraph(statement.text)
    if q.themes:
        doc.add_heading(str(w.heading_themes), level=2)
        for theme in q.themes:
            item = doc.add_paragraph(style=styles["List Bullet"])
            item.add_run(theme.label).bold = True
            item.add_run(f" — {theme.raised.text}")
            for quote in theme.quotes:
                paragraph = doc.add_paragraph(style=styles["Quote"])
                paragraph.add_run(_xml_text(f"“{quote.text}”")).italic = True
                if quote.attribution:
                    paragraph.add_run(_xml_text(f" — {quote.attribution}"))
    doc.add_heading(str(w.heading_position), level=2)
    doc.add_paragraph(" ".join(s.text for s in q.position))


def _comment_runs(comment: AppendixComment) -> list[Run]:
    runs: list[Run] = []
    if comment.answer:
        runs.append((f"{comment.answer}: ", True))
    runs.append((comment.text, False))
    if comment.attribution:
        runs.append((f" — {comment.attribution}", False))
    return runs


def render_docx(draft: Draft) -> bytes:
    """The draft as .docx bytes: title, introduction, a section per question, the appendix."""
    from bot.reporting.drafting import wording

    w = wording()
    doc = Document()
    doc.core_properties.title = draft.title
    doc.core_properties.comments = draft.notice
    styles = {name: doc.styles[name] for name in ("Caption", "List Bullet", "Quote", "Normal")}
    styles["Normal"].font.size = Pt(11)

    doc.add_heading(draft.title, level=0)
    _paragraph(doc, draft.notice, italic=True)
    if draft.key_points:
        doc.add_heading(str(w.heading_key_points), level=1)
        for point in draft.key_points:
            _paragraph(doc, point.text, styles["List Bullet"])
    doc.add_heading(str(w.heading_introduction), level=1)
    for statement in draft.introduction:
        doc.add_paragraph(statement.text)
    for question in draft.questions:
        _question(doc, question, w, styles)

    doc.add_page_break()
    doc.add_heading(str(w.heading_appendix), level=1)
    _paragraph(doc, draft.appendix_note, italic=True)
    bullet = styles["List Bullet"].style_id
    for section in draft.appendix:
        doc.add_heading(str(w.question_heading(number=section.number, text=section.text)), 2)
        if not section.comments:
            doc.add_paragraph(str(w.appendix_none()).strip())
        _append_paragraphs(doc, ((bullet, _comment_runs(c)) for c in section.comments))
        if section.more:
            _paragraph(doc, section.more, italic=True)

    buffer = BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
