"""The answer sheet: the columns of the CSV/XLSX export, which the import reads back.

Spreadsheet formula injection (OWASP "CSV Injection"): in CSV a text cell beginning with
`=`, `+`, `-`, `@`, tab or carriage return gets a leading apostrophe (`neutralise`, reversed by
`restore` on import).
"""

from __future__ import annotations

CONSULTATION = "consultation"
RESPONDENT = "respondent"
NAME = "name"
ORGANISATION = "organisation"
NETWORKS = "networks"
REGION = "region"
QUESTION_ID = "question id"
QUESTION = "question"
MATRIX_ROW = "matrix row"
ANSWER = "answer"
ANSWER_VALUE = "answer value"
COMMENT = "comment"
THEMES = "themes"  # the labels of the themes the comment was coded to (export only)
QUOTE_CONSENT = "quote consent"
SOURCE = "source"
SUBMITTED = "submitted"
LAST_EDITED = "last edited"
REVISIONS = "revisions"

LIST_SEPARATOR = "; "
DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def columns(anonymous: bool, matrix: bool = False) -> list[str]:
    """The export's columns; anonymous exports have no name or organisation column, and only
    consultations with a matrix question have a "matrix row" column (one row per row answered)."""
    identity = [] if anonymous else [NAME, ORGANISATION]
    return [
        CONSULTATION,
        RESPONDENT,
        *identity,
        NETWORKS,
        REGION,
        QUESTION_ID,
        QUESTION,
        *([MATRIX_ROW] if matrix else []),
        ANSWER,
        ANSWER_VALUE,
        COMMENT,
        THEMES,
        QUOTE_CONSENT,
        SOURCE,
        SUBMITTED,
        LAST_EDITED,
        REVISIONS,
    ]


def neutralise(value: str) -> str:
    """A CSV cell a spreadsheet will not run: risky text gets a leading apostrophe.

    Text that already starts with apostrophes before a risky character gets one more, so
    `restore` gives back exactly the original text.
    """
    if value.lstrip("'").startswith(DANGEROUS_PREFIXES) and (
        value.startswith(DANGEROUS_PREFIXES) or value.startswith("'")
    ):
        return "'" + value
    return value


def restore(value: str) -> str:
    """The text `neutralise` was given."""
    if value.startswith("'") and value.lstrip("'").startswith(DANGEROUS_PREFIXES):
        return value[1:]
    return value
