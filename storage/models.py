"""SQLModel tables. The database is the source of truth for everything that must survive a restart.

Times are timezone-aware UTC (`utcnow()`); SQLModel's UTCDateTime keeps them so on SQLite too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- directory -------------------------------------------------------------------------------


class Network(SQLModel, table=True):
    __tablename__ = "networks"
    id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)
    channel_id: str = Field(max_length=40, index=True)


class Region(SQLModel, table=True):
    __tablename__ = "regions"
    id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=200)


class RegionLead(SQLModel, table=True):
    __tablename__ = "region_leads"
    region_id: str = Field(foreign_key="regions.id", primary_key=True, ondelete="CASCADE")
    user_id: str = Field(primary_key=True, max_length=40)


class StaffMember(SQLModel, table=True):
    __tablename__ = "staff"
    user_id: str = Field(primary_key=True, max_length=40)


class MemberProfile(SQLModel, table=True):
    """What we know of a member: from the directory file, or told us once in the modal."""

    __tablename__ = "member_profiles"
    user_id: str = Field(primary_key=True, max_length=40)
    region_id: str | None = Field(default=None, max_length=100)
    organisation: str | None = Field(default=None, max_length=300)
    source: str = Field(default="directory", max_length=20)  # directory | self
    updated_at: datetime = Field(default_factory=utcnow)


# --- consultations ---------------------------------------------------------------------------


class Consultation(SQLModel, table=True):
    __tablename__ = "consultations"
    id: str = Field(primary_key=True, max_length=100)
    title: str = Field(max_length=500)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source_url: str | None = Field(default=None, max_length=2000)
    deadline: datetime  # UTC
    timezone: str = Field(max_length=64)
    anonymous: bool = False
    # None = every network in the directory at launch time.
    networks: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reminders: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="draft", max_length=20, index=True)  # draft|open|closed
    created_at: datetime = Field(default_factory=utcnow)
    launched_at: datetime | None = None
    launched_by: str | None = Field(default=None, max_length=40)
    closed_at: datetime | None = None
    # A launch the scheduler makes once at `launch_at`, claimed with a lease by one replica.
    launch_at: datetime | None = None
    launch_scheduled_by: str | None = Field(default=None, max_length=40)
    launch_lease_until: datetime | None = None
    # At each reminder, leads hear of their regions whose response rate is below this share.
    escalate_below: float | None = None


class Question(SQLModel, table=True):
    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("consultation_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True, ondelete="CASCADE")
    key: str = Field(max_length=100)
    position: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    kind: str = Field(max_length=20)  # stance | single_choice | multi_choice | free_text | matrix
    comment: str = Field(default="optional", max_length=20)  # optional | required | none
    # Matrix questions: [{"value": row slug, "text": row text}, ...] in order; None otherwise.
    rows: list[dict[str, str]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class QuestionOption(SQLModel, table=True):
    __tablename__ = "question_options"
    __table_args__ = (UniqueConstraint("question_id", "value"),)
    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="questions.id", index=True, ondelete="CASCADE")
    value: str = Field(max_length=150)
    label: str = Field(max_length=300)
    position: int
    # How the option reads in running prose ("a middle way approach"); None: from the label.
    phrase: str | None = Field(default=None, max_length=300)


class ConsultationPost(SQLModel, table=True):
    """The launch post of a consultation in one network channel; its ts comes from the outbox."""

    __tablename__ = "consultation_posts"
    consultation_id: str = Field(
        foreign_key="consultations.id", primary_key=True, ondelete="CASCADE"
    )
    network_id: str = Field(primary_key=True, max_length=100)
    channel_id: str = Field(max_length=40)
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")


class FaqEntry(SQLModel, table=True):
    """A question members ask about a consultation, with its answer: from the consultation
    file, or added by staff from an answer they gave (`from_question_id`)."""

    __tablename__ = "faq_entries"
    __table_args__ = (UniqueConstraint("consultation_id", "from_question_id"),)
    id: int | None = Field(default=None, primary_key=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True, ondelete="CASCADE")
    position: int
    question: str = Field(sa_column=Column(Text, nullable=False))
    answer: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(default="file", max_length=20)  # file | staff
    from_question_id: int | None = Field(default=None)
    added_by: str | None = Field(default=None, max_length=40)
    added_at: datetime = Field(default_factory=utcnow)


class MemberQuestion(SQLModel, table=True):
    """A member's question about a consultation: answered from the FAQ, or passed to staff."""

    __tablename__ = "member_questions"
    id: int | None = Field(default=None, primary_key=True)
    # The Slack delivery it came in (message channel+ts, or the command's trigger), so a retried
    # event or command is one question.
    delivery_key: str = Field(max_length=300, unique=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True, ondelete="CASCADE")
    asked_by: str = Field(max_length=40)
    text: str = Field(sa_column=Column(Text, nullable=False))
    asked_at: datetime = Field(default_factory=utcnow)
    # Asked in the thread of a launch post: the answer goes there; otherwise by DM.
    channel_id: str | None = Field(default=None, max_length=40)
    thread_ts: str | None = Field(default=None, max_length=40)
    status: str = Field(default="with_staff", max_length=20)  # from_faq | with_staff | answered
    faq_entry_id: int | None = Field(default=None)
    match_score: float | None = None
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answered_by: str | None = Field(default=None, max_length=40)
    answered_at: datetime | None = None


# --- answers ---------------------------------------------------------------------------------


class Response(SQLModel, table=True):
    """One respondent's response to one consultation; its answers live in revisions."""

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("consultation_id", "respondent_key"),)
    id: int | None = Field(default=None, primary_key=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True, ondelete="CASCADE")
    # Slack user id, or a keyed pseudonym in anonymous consultations.
    respondent_key: str = Field(max_length=100)
    user_id: str | None = Field(default=None, max_length=40)  # None when anonymous or imported
    region_id: str | None = Field(default=None, max_length=100, index=True)
    organisation: str | None = Field(default=None, max_length=300)
    display_name: str | None = Field(default=None, max_length=300)  # never set when anonymous
    quote_consent: str = Field(default="anonymous", max_length=20)  # named | anonymous | no
    source: str = Field(default="slack", max_length=20)  # slack | import
    current_revision_id: int | None = Field(default=None)
    revision_count: int = 0
    submitted_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ResponseNetwork(SQLModel, table=True):
    """The target networks a respondent belongs to (a member may sit in several channels)."""

    __tablename__ = "response_networks"
    response_id: int = Field(foreign_key="responses.id", primary_key=True, ondelete="CASCADE")
    network_id: str = Field(primary_key=True, max_length=100, index=True)


class ResponseRevision(SQLModel, table=True):
    """Every submission is kept: an edit adds a revision and never overwrites earlier text."""

    __tablename__ = "response_revisions"
    __table_args__ = (UniqueConstraint("response_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="responses.id", index=True, ondelete="CASCADE")
    number: int
    created_at: datetime = Field(default_factory=utcnow)
    source: str = Field(default="slack", max_length=20)


class Answer(SQLModel, table=True):
    __tablename__ = "answers"
    __table_args__ = (Index("ix_answers_question_revision", "question_id", "revision_id"),)
    id: int | None = Field(default=None, primary_key=True)
    revision_id: int = Field(foreign_key="response_revisions.id", index=True, ondelete="CASCADE")
    question_id: int = Field(foreign_key="questions.id", ondelete="CASCADE")
    choice: str | None = Field(default=None, max_length=150)  # stance / single choice value
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AnswerSelection(SQLModel, table=True):
    """The options ticked in a multi-choice answer, one row each so they can be counted in SQL;
    for a matrix answer, one row per matrix row: `value` is the row, `choice` the option chosen."""

    __tablename__ = "answer_selections"
    answer_id: int = Field(foreign_key="answers.id", primary_key=True, ondelete="CASCADE")
    value: str = Field(primary_key=True, max_length=150)
    choice: str | None = Field(default=None, max_length=150)


# --- delivery, scheduling, audit -------------------------------------------------------------


class OutboxMessage(SQLModel, table=True):
    """A Slack Web API call written before it is made, delivered once by a claiming worker."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "available_at"),)
    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=300, unique=True)
    method: str = Field(max_length=60)  # chat.postMessage | chat.update | files.upload_v2 ...
    channel: str = Field(max_length=40, index=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # Another outbox row whose ts this call needs (chat.update, thread replies).
    depends_on_id: int | None = Field(default=None, foreign_key="outbox.id")
    consultation_id: str | None = Field(default=None, max_length=100, index=True)
    batch: str | None = Field(default=None, max_length=200, index=True)  # e.g. launch:<id>
    status: str = Field(default="pending", max_length=20)  # pending|sending|sent|failed
    attempts: int = 0
    available_at: datetime = Field(default_factory=utcnow)
    lease_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=100)
    result_ts: str | None = Field(default=None, max_length=40)
    result_channel: str | None = Field(default=None, max_length=40)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class ReminderPlan(SQLModel, table=True):
    __tablename__ = "reminder_plans"
    __table_args__ = (UniqueConstraint("consultation_id", "offset_label"),)
    id: int | None = Field(default=None, primary_key=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True, ondelete="CASCADE")
    offset_label: str = Field(max_length=20)  # "7d"
    due_at: datetime
    status: str = Field(default="pending", max_length=20)  # pending|claimed|done|skipped
    lease_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=100)
    done_at: datetime | None = None


class ReminderOptOut(SQLModel, table=True):
    __tablename__ = "reminder_opt_outs"
    consultation_id: str = Field(
        foreign_key="consultations.id", primary_key=True, ondelete="CASCADE"
    )
    user_id: str = Field(primary_key=True, max_length=40)
    created_at: datetime = Field(default_factory=utcnow)


class ManualReminder(SQLModel, table=True):
    __tablename__ = "manual_reminders"
    id: int | None = Field(default=None, primary_key=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True, ondelete="CASCADE")
    network_id: str = Field(max_length=100)
    requested_by: str = Field(max_length=40)
    sent_at: datetime = Field(default_factory=utcnow)
    # The regions the nudge reached (a lead's); None: everyone in the network (staff).
    regions: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class ProcessedDelivery(SQLModel, table=True):
    """Keys of Slack deliveries already handled, so retries and double clicks have one effect."""

    __tablename__ = "processed_deliveries"
    key: str = Field(primary_key=True, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str | None = Field(default=None, max_length=40)
    action: str = Field(max_length=60)
    consultation_id: str | None = Field(default=None, max_length=100, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class InboxSubmission(SQLModel, table=True):
    """A member's submission, written in one statement before Slack is acked and recorded
    (revision, receipt) just after; replayed after a crash so nothing acked is ever lost."""

    __tablename__ = "inbox_submissions"
    id: int | None = Field(default=None, primary_key=True)
    delivery_key: str = Field(max_length=300, unique=True)
    user_id: str = Field(max_length=40)
    consultation_id: str = Field(max_length=100)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    accepted_at: datetime = Field(default_factory=utcnow)
    attempts: int = 0
    lease_until: datetime | None = None
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


# --- theme codebooks -------------------------------------------------------------------------


class ThemeCodebook(SQLModel, table=True):
    """The themes of one question's comments and how every comment was coded to them.

    Built when first needed and rebuilt when the answers it was built from have changed
    (`answers_fingerprint`); staff edits live on its themes and survive a rebuild."""

    __tablename__ = "theme_codebooks"
    __table_args__ = (UniqueConstraint("consultation_id", "question_key"),)
    id: int | None = Field(default=None, primary_key=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True, ondelete="CASCADE")
    question_key: str = Field(max_length=100)
    answers_fingerprint: str = Field(max_length=100)
    engine: str = Field(default="offline", max_length=20)  # offline | llm
    # The number the next new theme's id gets ("t7"), so an id is never given twice.
    next_number: int = 1
    built_at: datetime = Field(default_factory=utcnow)


class CodebookTheme(SQLModel, table=True):
    __tablename__ = "codebook_themes"
    __table_args__ = (UniqueConstraint("codebook_id", "theme_id"),)
    id: int | None = Field(default=None, primary_key=True)
    codebook_id: int = Field(foreign_key="theme_codebooks.id", index=True, ondelete="CASCADE")
    theme_id: str = Field(max_length=20)  # "t1": what staff see and the exports carry
    engine_key: str | None = Field(default=None, max_length=100)  # the engine's own key
    label: str = Field(max_length=200)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    edited: bool = False
    status: str = Field(default="active", max_length=20)  # active | merged | dropped
    merged_into: str | None = Field(default=None, max_length=20)
    # [{"text": verbatim part of a comment, "respondent_key": whose}], best first.
    quotes: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    position: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class ThemeCoding(SQLModel, table=True):
    """One respondent's comment (its revision) coded to one theme; a comment may have several."""

    __tablename__ = "theme_codings"
    codebook_id: int = Field(foreign_key="theme_codebooks.id", primary_key=True, ondelete="CASCADE")
    respondent_key: str = Field(primary_key=True, max_length=100)
    theme_id: str = Field(primary_key=True, max_length=20)
    revision_id: int | None = Field(default=None)
