"""The consultation file (docs/contracts.md, Consultation file) and the directory file (docs/contracts.md, Directory file), parsed with pydantic.

Every problem is reported as `field.path: what is wrong`, all at once, and nothing is stored
unless the whole file is valid.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.vocabulary import STANCES

SLUG = r"^[a-z0-9][a-z0-9_-]*$"
USER_ID = r"^[UW][A-Z0-9]{2,}$"
CHANNEL_ID = r"^[CG][A-Z0-9]{2,}$"
PATTERN_HINTS = {
    SLUG: "must be a lowercase id of letters, digits, '-' or '_' (like integrating-care)",
    USER_ID: "must be a Slack user id (like U01ABC2DEF)",
    CHANNEL_ID: "must be a Slack channel id (like C01ICSNET)",
}
OFFSET = re.compile(r"^(\d+)\s*([smhd])$")
OFFSET_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# Slack's limits for the modal that holds every question (100 blocks, 10 radio options, ...).
MAX_QUESTIONS = 25
MAX_OPTIONS = 10
MAX_OPTION_LABEL = 75
MAX_QUESTION_TEXT = 2000
# A FAQ answer is shown in one section block (3,000 characters) with its question above it.
MAX_FAQ_QUESTION = 300
MAX_FAQ_ANSWER = 2500
MAX_FAQ_ENTRIES = 50
MAX_ROW_TEXT = 2000  # a matrix row is a radio group whose label is the row's text
MAX_MODAL_BLOCKS = 100
# Blocks the response modal spends outside the questions: header, context, the closing divider,
# the quote-consent radios, and (first time) the "about you" section, region and organisation.
MODAL_FRAME_BLOCKS = 7


class FileFormatError(Exception):
    """A file with problems; `problems` holds one `path: message` line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "option"


def parse_offset(label: str) -> timedelta:
    match = OFFSET.match(label.strip())
    if not match:
        raise ValueError(f"'{label}' is not a duration like 7d, 2d, 4h, 30m or 45s")
    return timedelta(**{OFFSET_UNITS[match.group(2)]: int(match.group(1))})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- consultation file -----------------------------------------------------------------------


class OptionSpec(_Strict):
    value: Annotated[str, Field(min_length=1, max_length=150)]
    label: Annotated[str, Field(min_length=1, max_length=MAX_OPTION_LABEL)]
    # How the option reads inside a sentence ("a middle way approach"); default: from the label.
    phrase: Annotated[str, Field(min_length=1, max_length=300)] | None = None


class RowSpec(_Strict):
    value: Annotated[str, Field(pattern=SLUG, max_length=150)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_ROW_TEXT)]


class QuestionSpec(_Strict):
    id: Annotated[str, Field(pattern=SLUG, max_length=100)]
    text: Annotated[str, Field(min_length=1, max_length=MAX_QUESTION_TEXT)]
    kind: Literal["stance", "single_choice", "multi_choice", "free_text", "matrix"]
    comment: Literal["optional", "required", "none"] = "optional"
    options: list[OptionSpec] = Field(default_factory=list)
    rows: list[RowSpec] = Field(default_factory=list)

    @field_validator("rows", mode="before")
    @classmethod
    def _rows_from_text(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [
            {"value": slugify(str(item))[:150], "text": str(item)}
            if isinstance(item, str)
            else item
            for item in value
        ]

    @field_validator("options", mode="before")
    @classmethod
    def _options_from_text(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [
            {"value": slugify(str(item)), "label": str(item)} if isinstance(item, str) else item
            for item in value
        ]

    @model_validator(mode="after")
    def _options_fit_kind(self) -> QuestionSpec:
        if self.kind in ("single_choice", "multi_choice", "matrix"):
            if len(self.options) < 2:
                raise ValueError(f"a {self.kind} question needs at least two options")
            if len(self.options) > MAX_OPTIONS:
                raise ValueError(f"at most {MAX_OPTIONS} options fit in Slack")
            values = [option.value for option in self.options]
            duplicates = sorted({v for v in values if values.count(v) > 1})
            if duplicates:
                raise ValueError(f"option values must be unique; repeated: {', '.join(duplicates)}")
        elif self.options:
            raise ValueError(f"a {self.kind} question takes no options")
        if self.kind == "matrix":
            if not self.rows:
                raise ValueError("a matrix question needs at least one row")
            row_values = [row.value for row in self.rows]
            repeated = sorted({v for v in row_values if row_values.count(v) > 1})
            if repeated:
                raise ValueError(f"row values must be unique; repeated: {', '.join(repeated)}")
        elif self.rows:
            raise ValueError(f"a {self.kind} question takes no rows")
        if self.kind == "free_text" and self.comment == "none":
            raise ValueError(
                "a free_text question is answered by its comment; comment cannot be none"
            )
        return self

    @property
    def modal_blocks(self) -> int:
        """Blocks this question takes in the response modal: a divider, one input per choice
        group (one per matrix row), and the comment box."""
        inputs = len(self.rows) if self.kind == "matrix" else (self.kind != "free_text")
        return 1 + int(inputs) + (self.comment != "none")

    @property
    def choices(self) -> list[tuple[str, str]]:
        """(value, label) pairs the member chooses from."""
        if self.kind == "stance":
            return list(STANCES)
        return [(option.value, option.label) for option in self.options]


class FaqSpec(_Strict):
    """One question members ask about the proposals, with the answer they are given."""

    q: Annotated[str, Field(min_length=3, max_length=MAX_FAQ_QUESTION)]
    a: Annotated[str, Field(min_length=1, max_length=MAX_FAQ_ANSWER)]


def parse_share(value: Any) -> float:
    """`30%`, `30 %` or a fraction like `0.3` -> 0.3; anything else is refused."""
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"'{value}' is not a rate like 30% or 0.3") from None
    if not 0 < share <= 1:
        raise ValueError(f"'{value}' must be more than 0% and at most 100%")
    return share


class ConsultationFile(_Strict):
    id: Annotated[str, Field(pattern=SLUG, max_length=100)]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    summary: str = ""
    source_url: Annotated[str, Field(pattern=r"^https?://\S+$", max_length=2000)] | None = None
    deadline: datetime
    timezone: str | None = None
    anonymous: bool = False
    networks: list[Annotated[str, Field(pattern=SLUG)]] | None = None
    reminders: list[str] = Field(default_factory=list)
    questions: Annotated[list[QuestionSpec], Field(min_length=1, max_length=MAX_QUESTIONS)]
    launch_at: datetime | None = None
    escalate_below: float | None = None
    faq: Annotated[list[FaqSpec], Field(max_length=MAX_FAQ_ENTRIES)] = Field(default_factory=list)

    @field_validator("escalate_below", mode="before")
    @classmethod
    def _share(cls, value: Any) -> float | None:
        return None if value is None else parse_share(value)

    @model_validator(mode="after")
    def _launch_before_deadline(self) -> ConsultationFile:
        if self.launch_at is not None and self.launch_utc("UTC") >= self.deadline_utc("UTC"):
            raise ValueError("launch_at: must be before the deadline")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            _zone(value)
        return value

    @field_validator("reminders")
    @classmethod
    def _valid_offsets(cls, value: list[str]) -> list[str]:
        problems = []
        for label in value:
            try:
                parse_offset(str(label))
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("\n".join(problems))
        return [str(label).strip() for label in value]

    @field_validator("questions")
    @classmethod
    def _unique_questions(cls, value: list[QuestionSpec]) -> list[QuestionSpec]:
        ids = [q.id for q in value]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"question ids must be unique; repeated: {', '.join(duplicates)}")
        used = MODAL_FRAME_BLOCKS + sum(q.modal_blocks for q in value)
        if used > MAX_MODAL_BLOCKS:
            matrices = [q for q in value if q.kind == "matrix"]
            where = (
                f"; the matrix question(s) {', '.join(repr(q.id) for q in matrices)} "
                f"have {sum(len(q.rows) for q in matrices)} rows, "
                f"remove at least {used - MAX_MODAL_BLOCKS}"
                if matrices
                else ""
            )
            raise ValueError(
                f"the response modal would need {used} blocks and Slack allows "
                f"{MAX_MODAL_BLOCKS} (one per matrix row, question and comment box){where}"
            )
        return value

    def deadline_utc(self, default_timezone: str) -> datetime:
        """The deadline as an aware UTC instant; a deadline without offset is in `timezone`."""
        deadline = self.deadline
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=_zone(self.timezone or default_timezone))
        return deadline.astimezone(UTC)

    def launch_utc(self, default_timezone: str) -> datetime | None:
        """When the scheduler launches it (aware UTC); without offset it is in `timezone`."""
        if self.launch_at is None:
            return None
        launch = self.launch_at
        if launch.tzinfo is None:
            launch = launch.replace(tzinfo=_zone(self.timezone or default_timezone))
        return launch.astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone '{name}' (use an IANA name like Europe/London)"
        ) from exc


# --- directory file --------------------------------------------------------------------------


class RegionSpec(_Strict):
    id: Annotated[str, Field(pattern=SLUG, max_length=100)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    leads: list[Annotated[str, Field(pattern=USER_ID)]] = Field(default_factory=list)


class NetworkSpec(_Strict):
    id: Annotated[str, Field(pattern=SLUG, max_length=100)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    channel: Annotated[str, Field(pattern=CHANNEL_ID)]


class MemberSpec(_Strict):
    region: str | None = None
    organisation: Annotated[str, Field(max_length=300)] | None = None


class DirectoryFile(_Strict):
    staff: list[Annotated[str, Field(pattern=USER_ID)]] = Field(default_factory=list)
    regions: list[RegionSpec] = Field(default_factory=list)
    networks: Annotated[list[NetworkSpec], Field(min_length=1)]
    members: dict[Annotated[str, Field(pattern=USER_ID)], MemberSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> DirectoryFile:
        problems = reference_problems(self.model_dump())
        if problems:
            raise ValueError("\n".join(problems))
        return self


def reference_problems(data: Any) -> list[str]:
    """Cross-references in a directory (unique ids, known regions), checked on raw data too so
    they are reported next to field problems."""
    if not isinstance(data, dict):
        return []
    problems: list[str] = []

    def ids(field: str) -> list[str]:
        items = data.get(field) or []
        return [i.get("id") for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]

    for field in ("regions", "networks"):
        found = ids(field)
        repeated = sorted({i for i in found if found.count(i) > 1})
        if repeated:
            problems.append(f"{field}: ids must be unique; repeated: {', '.join(repeated)}")
    region_ids = set(ids("regions"))
    members = data.get("members") or {}
    if isinstance(members, dict):
        for user, member in members.items():
            region = member.get("region") if isinstance(member, dict) else None
            if region is not None and region not in region_ids:
                problems.append(f"members.{user}.region: unknown region '{region}'")
    return problems


# --- loading ---------------------------------------------------------------------------------


class _PlainLoader(yaml.SafeLoader):
    """YAML without implicit timestamps, so deadlines keep the offset (or lack of it) written."""


# Timestamps stay text (pydantic parses them); of YAML 1.1's booleans only true/false remain, so
# options such as [Yes, No] or [On, Off] stay the words the author wrote.
_PlainLoader.yaml_implicit_resolvers = {
    key: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PlainLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(file)"


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        loc = tuple(p for p in item["loc"] if p not in ("function-after", "function-before"))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "string_pattern_mismatch":
            message = PATTERN_HINTS.get(item["ctx"]["pattern"], message)
        elif item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "missing":
            message = "is required"
        for part in message.split("\n"):
            field_first = (
                ": " in part
                and part.split(": ", 1)[0]
                .replace(".", "")
                .replace("[", "")
                .replace("]", "")
                .replace("-", "")
                .replace("_", "")
                .isalnum()
            )
            if field_first and not loc:
                problems.append(part)  # already "path: message" (cross-field checks)
            else:
                problems.append(f"{_path(loc)}: {part}")
    return problems


def _read_yaml(text: str, source: str) -> Any:
    try:
        data = yaml.load(text, Loader=_PlainLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise FileFormatError(source, [f"{where}: not valid YAML: {problem}"]) from exc
    if not isinstance(data, dict):
        raise FileFormatError(source, ["(file): expected a mapping of fields"])
    return data


def parse_consultation(text: str, source: str = "consultation") -> ConsultationFile:
    return validate_consultation(_read_yaml(text, source), source)


def validate_consultation(data: Any, source: str = "consultation") -> ConsultationFile:
    """Validate the fields of a consultation file however they arrived (file, Slack form)."""
    try:
        return ConsultationFile.model_validate(data)
    except ValidationError as exc:
        raise FileFormatError(source, _problems(exc)) from exc


def parse_directory(text: str, source: str = "directory") -> DirectoryFile:
    data = _read_yaml(text, source)
    try:
        return DirectoryFile.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        problems += [p for p in reference_problems(data) if p not in problems]
        raise FileFormatError(source, problems) from exc


def load_consultation_file(path: str | Path) -> ConsultationFile:
    return parse_consultation(_read(path), str(path))


def load_directory_file(path: str | Path) -> DirectoryFile:
    return parse_directory(_read(path), str(path))


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FileFormatError(str(path), [f"(file): cannot read it ({exc.strerror})"]) from exc
