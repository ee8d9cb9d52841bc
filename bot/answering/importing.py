"""Importing answers that arrived outside Slack (email, forms) from a CSV file.

The file has the CSV export's columns (`bot.reporting.exports.data.columns`); only `respondent`,
`question id` and an answer (`answer value` or `answer` label) are required, plus `comment`,
`name`, `organisation`, `networks` (ids or names, "; " separated), `region` (id or name) and
`quote consent` when known. Rows are grouped by respondent and each respondent becomes one
submission with source "import" and the key `import:<respondent>` (a keyed pseudonym of it in
anonymous consultations), so importing the same file again changes nothing. A bad row is
reported with its line number and reason, and the rest is imported.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import col, select

from bot.answering import sheet as cols
from bot.answering.anonymity import pseudonym
from bot.answering.answers import (
    MAX_COMMENT,
    QUOTE_CONSENTS,
    AnswerInput,
    Submission,
    record_submission,
    validate_answers,
)
from bot.consultations.catalogue import ConsultationView, QuestionView, get_consultation
from bot.consultations.files import slugify
from storage.db import Database
from storage.models import Network, Region, Response

IMPORT_PREFIX = "import:"
# Other spellings of the export's column names that people type in a spreadsheet.
ALIASES = {
    "network": cols.NETWORKS,
    "questionid": cols.QUESTION_ID,
    "question_id": cols.QUESTION_ID,
    "question key": cols.QUESTION_ID,
    "value": cols.ANSWER_VALUE,
    "answer_value": cols.ANSWER_VALUE,
    "choice": cols.ANSWER_VALUE,
    "answer label": cols.ANSWER,
    "quote_consent": cols.QUOTE_CONSENT,
    "consent": cols.QUOTE_CONSENT,
    "organization": cols.ORGANISATION,
    "display name": cols.NAME,
}
REQUIRED = (cols.RESPONDENT, cols.QUESTION_ID)


class ImportFileError(Exception):
    """The file cannot be used at all (unreadable, not CSV, required columns missing)."""


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    respondents: int = 0  # respondents recorded from the file, unchanged ones included
    unchanged: int = 0  # of which already had exactly these answers
    rows: int = 0  # data rows read
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.respondents - self.unchanged

    def summary(self) -> str:
        text = f"Imported {self.respondents} respondent{'s' if self.respondents != 1 else ''}"
        text += f" ({self.unchanged} unchanged)"
        if self.problems:
            n = len(self.problems)
            text += f"; {n} row{'s' if n != 1 else ''} skipped:"
        else:
            text += "."
        return text


@dataclass
class _Respondent:
    first_line: int
    answers: dict[str, AnswerInput] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # question key -> line
    name: str | None = None
    organisation: str | None = None
    networks: list[str] = field(default_factory=list)
    region_id: str | None = None
    quote_consent: str | None = None


def decode(raw: bytes) -> str:
    """UTF-8 (with or without Excel's byte order mark), else Windows-1252 as Excel saves it."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def read_file(path: str | Path) -> str:
    try:
        return decode(Path(path).read_bytes())
    except OSError as exc:
        raise ImportFileError(f"cannot read {path} ({exc.strerror})") from exc


def _header_name(name: str) -> str:
    key = " ".join(name.replace("\ufeff", "").strip().lower().split())
    return ALIASES.get(key, ALIASES.get(key.replace(" ", ""), key))


def parse_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, row by normalised column name) for each non-blank data row."""
    if not text.strip():
        raise ImportFileError("the file is empty")
    # Excel saves ";"-separated CSV in some locales: take the separator the header uses most.
    first_line = text.splitlines()[0]
    delimiter = max(",;\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [_header_name(h) for h in next(reader)]
    except csv.Error as exc:
        raise ImportFileError(f"not a CSV file ({exc})") from exc
    missing = [c for c in REQUIRED if c not in header]
    if cols.ANSWER_VALUE not in header and cols.ANSWER not in header:
        missing.append(f"{cols.ANSWER_VALUE}' or '{cols.ANSWER}")
    if missing:
        raise ImportFileError(
            "the file has no '" + "', '".join(missing) + "' column "
            f"(columns found: {', '.join(h for h in header if h) or 'none'})"
        )
    rows: list[tuple[int, dict[str, str]]] = []
    line = reader.line_num + 1
    try:
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            row = {
                name: cols.restore(value.strip())
                for name, value in zip(header, record, strict=False)
                if name
            }
            rows.append((start, row))
    except csv.Error as exc:
        raise ImportFileError(f"line {line}: not valid CSV ({exc})") from exc
    return rows


def _split(value: str) -> list[str]:
    parts = [p.strip() for p in value.replace(",", ";").split(";")]
    return [p for p in parts if p]


def _match_option(question: QuestionView, text: str) -> str | None:
    """The option value meant by a value, a label or a label's slug (case-insensitive)."""
    wanted = text.strip().lower()
    for option in question.options:
        if wanted in (option.value.lower(), option.label.lower()):
            return option.value
    slug = slugify(text)
    for option in question.options:
        if slug in (option.value, slugify(option.label)):
            return option.value
    return None


def _parse_answer(question: QuestionView, row: dict[str, str]) -> AnswerInput | str:
    """The answer of a row, or the reason it cannot be used."""
    comment = row.get(cols.COMMENT, "") or None
    if comment and len(comment) > MAX_COMMENT:
        return f"comment too long ({len(comment):,} characters; at most {MAX_COMMENT:,})"
    if question.kind == "free_text":
        problem = _validation(question, AnswerInput(comment=comment))
        return problem or AnswerInput(comment=comment)
    given = [row.get(cols.ANSWER_VALUE, ""), row.get(cols.ANSWER, "")]
    options = ", ".join(o.value for o in question.options)
    if question.kind == "matrix":
        return _parse_matrix_row(question, row, given, comment)
    if not any(given):
        return f"no answer for question '{question.key}' (one of: {options})"
    if question.kind == "multi_choice":
        for text in given:
            if not text:
                continue
            values = [_match_option(question, part) for part in _split(text)]
            if all(values):
                answer = AnswerInput(choices=tuple(v for v in values if v), comment=comment)
                return _validation(question, answer) or answer
        text = next(t for t in given if t)
        bad = [p for p in _split(text) if _match_option(question, p) is None]
        return (
            f"answer '{'; '.join(bad)}' is not an option of question '{question.key}' "
            f"(one of: {options})"
        )
    for text in given:
        value = _match_option(question, text) if text else None
        if value is not None:
            answer = AnswerInput(choice=value, comment=comment)
            return _validation(question, answer) or answer
    text = next(t for t in given if t)
    return f"answer '{text}' is not an option of question '{question.key}' (one of: {options})"


def _parse_matrix_row(
    question: QuestionView, row: dict[str, str], given: list[str], comment: str | None
) -> AnswerInput | str:
    """One row of a matrix answer (the whole answer is checked once its rows are together)."""
    named = row.get(cols.MATRIX_ROW, "")
    wanted = slugify(named)
    matrix_row = next(
        (r for r in question.rows if named and wanted in (r.value, slugify(r.text))), None
    )
    if matrix_row is None:
        rows = "; ".join(r.text for r in question.rows)
        return (
            f"question '{question.key}' needs a '{cols.MATRIX_ROW}' naming one of its rows "
            f"({rows}), not '{named}'"
            if named
            else f"question '{question.key}' needs a '{cols.MATRIX_ROW}' column naming the row"
        )
    for text in given:
        value = _match_option(question, text) if text else None
        if value is not None:
            return AnswerInput(comment=comment, rows=((matrix_row.value, value),))
    options = ", ".join(o.value for o in question.options)
    text = next((t for t in given if t), "")
    return f"answer '{text}' is not an option of question '{question.key}' (one of: {options})"


def _validation(question: QuestionView, answer: AnswerInput) -> str | None:
    view = ConsultationView(consultation=None, questions=[question])  # type: ignore[arg-type]
    problems = validate_answers(view, {question.key: answer})
    if not problems:
        return None
    problem = problems[question.key]
    if problem.part.startswith("row:"):
        row = question.row_text(problem.part.removeprefix("row:"))
        return f"question '{question.key}', row '{row}': {problem.message}"
    return f"question '{question.key}': {problem.message}"


def _lookup(value: str, known: dict[str, str]) -> str | None:
    """The id meant by an id or a name (case-insensitive); `known` maps id -> name."""
    wanted = value.strip().lower()
    for key, name in known.items():
        if wanted in (key.lower(), name.lower()):
            return key
    return None


async def import_answers(
    db: Database, consultation_id: str, text: str, *, anon_secret: str
) -> ImportReport:
    """Import the CSV `text` into the consultation; see the module docstring."""
    consultation = await get_consultation(db, consultation_id)
    anonymous = consultation.consultation.anonymous
    rows = parse_rows(text)
    questions = {q.key: q for q in consultation.questions}
    async with db.session() as session:
        networks = {n.id: n.name for n in (await session.exec(select(Network))).all()}
        regions = {r.id: r.name for r in (await session.exec(select(Region))).all()}
    report = ImportReport(rows=len(rows))
    respondents: dict[str, _Respondent] = {}
    problems: list[RowProblem] = []

    for line, row in rows:
        respondent = row.get(cols.RESPONDENT, "")
        if not respondent:
            problems.append(RowProblem(line, "missing respondent"))
            continue
        named = row.get(cols.CONSULTATION, "")
        if named and named != consultation_id:
            problems.append(
                RowProblem(line, f"the row is for consultation '{named}', not '{consultation_id}'")
            )
            continue
        key = row.get(cols.QUESTION_ID, "")
        question = questions.get(key)
        if question is None:
            problems.append(
                RowProblem(
                    line,
                    f"unknown question '{key}' (the consultation has: {', '.join(questions)})"
                    if key
                    else "missing question id",
                )
            )
            continue
        answer = _parse_answer(question, row)
        if isinstance(answer, str):
            problems.append(RowProblem(line, answer))
            continue
        consent = row.get(cols.QUOTE_CONSENT, "").lower() or None
        if consent is not None and consent not in QUOTE_CONSENTS:
            problems.append(
                RowProblem(line, f"quote consent '{consent}' must be named, anonymous or no")
            )
            continue
        network_ids: list[str] = []
        unknown_networks = []
        for part in _split(row.get(cols.NETWORKS, "")):
            found = _lookup(part, networks)
            (network_ids.append(found) if found else unknown_networks.append(part))
        if unknown_networks:
            problems.append(RowProblem(line, f"unknown network '{'; '.join(unknown_networks)}'"))
            continue
        region_id = None
        if row.get(cols.REGION):
            region_id = _lookup(row[cols.REGION], regions)
            if region_id is None:
                problems.append(RowProblem(line, f"unknown region '{row[cols.REGION]}'"))
                continue
        entry = respondents.setdefault(respondent, _Respondent(first_line=line))
        if question.kind == "matrix" and answer.rows:
            # Each matrix row comes on a line of its own: gather them into one answer.
            line_key = f"{key}:{answer.rows[0][0]}"
            if line_key in entry.lines:
                problems.append(
                    RowProblem(
                        line,
                        f"respondent '{respondent}' already answered that row of question "
                        f"'{key}' on line {entry.lines[line_key]}",
                    )
                )
                continue
            earlier = entry.answers.get(key, AnswerInput())
            answer = AnswerInput(
                comment=earlier.comment or answer.comment, rows=earlier.rows + answer.rows
            )
            entry.lines[line_key] = line
            entry.lines.setdefault(key, line)
        elif key in entry.answers:
            problems.append(
                RowProblem(
                    line,
                    f"respondent '{respondent}' already answered question '{key}' "
                    f"on line {entry.lines[key]}",
                )
            )
            continue
        entry.answers[key] = answer
        entry.lines.setdefault(key, line)
        entry.name = entry.name or row.get(cols.NAME) or None
        entry.organisation = entry.organisation or row.get(cols.ORGANISATION) or None
        entry.networks.extend(n for n in network_ids if n not in entry.networks)
        entry.region_id = entry.region_id or region_id
        entry.quote_consent = entry.quote_consent or consent

    for entry in respondents.values():
        for key, answer in list(entry.answers.items()):
            if questions[key].kind != "matrix":
                continue
            problem = _validation(questions[key], answer)
            if problem:
                problems.append(RowProblem(entry.lines[key], problem))
                del entry.answers[key]
    respondents = {r: e for r, e in respondents.items() if e.answers}
    keys = {
        respondent: pseudonym(anon_secret, consultation_id, IMPORT_PREFIX + respondent)
        if anonymous
        else IMPORT_PREFIX + respondent
        for respondent in respondents
    }
    async with db.session() as session:
        in_slack: set[str] = set()
        if not anonymous and respondents:
            in_slack = set(
                (
                    await session.exec(
                        select(Response.respondent_key).where(
                            Response.consultation_id == consultation_id,
                            Response.source == "slack",
                            col(Response.respondent_key).in_(list(respondents)),
                        )
                    )
                ).all()
            )
        for respondent, entry in respondents.items():
            if respondent in in_slack:
                problems.extend(
                    RowProblem(
                        line,
                        f"respondent '{respondent}' answered in Slack; their Slack answers are kept",
                    )
                    for line in sorted(set(entry.lines.values()))
                )
                continue
            result = await record_submission(
                session,
                Submission(
                    consultation=consultation,
                    answers=entry.answers,
                    respondent_key=keys[respondent],
                    networks=entry.networks,
                    region_id=entry.region_id,
                    organisation=entry.organisation,
                    display_name=entry.name,
                    quote_consent=entry.quote_consent or "anonymous",
                    source="import",
                ),
                anon_secret=anon_secret,
            )
            report.respondents += 1
            report.unchanged += 0 if result.changed else 1
    report.problems = sorted(problems, key=lambda p: p.line)
    return report
