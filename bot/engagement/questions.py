"""Members' questions: answered from the consultation's FAQ, or passed to staff and answered.

A member asks with `/consult ask ID QUESTION` (answered privately) or by replying in the thread
of a consultation's launch post (answered in that thread). The question is stored first (its
Slack delivery is its key, so a retried event or command is one question); when the best FAQ
entry is close enough (bot.engagement.faq_match) the answer names the entry it came from.
Otherwise every staff member gets a DM with the question and an **Answer** button; the first
answer sent goes back to the asker (in the thread when asked there, else by DM), and the staff
member who wrote it can add it to the consultation's FAQ with one click, so the next member who
asks the same is answered at once.

The bot answers only in threads of its own launch posts, never its own or other bots' messages,
and in a thread only replies that read as a question (a '?' or a question word first), so a
"thanks, done!" does not reach staff. Everything echoed back is escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.consultations.catalogue import ConsultationError, target_networks
from bot.core.audit import record
from bot.core.permissions import Actor, authorize, resolve_actor
from bot.core.services import Services
from bot.delivery.outbox import enqueue
from bot.engagement.blocks import (
    answer_sent,
    faq_answer,
    question_for_staff,
    question_passed,
    staff_answer,
)
from bot.engagement.faq_match import FaqItem, FaqMatch, best_match
from storage.db import Database, insert_or_ignore
from storage.models import (
    Consultation,
    ConsultationPost,
    FaqEntry,
    MemberQuestion,
    OutboxMessage,
    StaffMember,
    utcnow,
)

MAX_QUESTION = 1500
QUESTION_WORDS = frozenset(
    "what why how when who whom whose where which will would can could should shall does do "
    "did is are was were has have may might must".split()
)
FIRST_WORD = re.compile(r"[a-z']+")


def reads_as_question(text: str) -> bool:
    """A thread reply the bot treats as a question: it has a '?' or starts with a question word."""
    if "?" in text:
        return True
    first = FIRST_WORD.match(text.strip().lower())
    return first is not None and first.group(0) in QUESTION_WORDS


@dataclass(frozen=True)
class Asked:
    question: MemberQuestion
    consultation: Consultation
    match: FaqMatch | None
    entry_number: int | None  # 1-based position of the FAQ entry used
    repeated: bool = False  # this delivery had been handled already

    def reply(self) -> dict[str, Any]:
        """What the asker is shown (ephemerally for /consult ask, in the thread otherwise)."""
        if self.match is not None and self.entry_number is not None:
            return faq_answer(
                self.consultation,
                entry_number=self.entry_number,
                entry_question=self.match.item.question,
                answer=self.match.item.answer,
            )
        return question_passed(self.consultation, in_thread=self.question.thread_ts is not None)


async def faq_items(session: AsyncSession, consultation_id: str) -> list[FaqItem]:
    entries = (
        await session.exec(
            select(FaqEntry)
            .where(FaqEntry.consultation_id == consultation_id)
            .order_by(col(FaqEntry.position), col(FaqEntry.id))
        )
    ).all()
    return [FaqItem(e.id or 0, e.question, e.answer) for e in entries]


async def is_consulted(services: Services, actor: Actor, consultation: Consultation) -> bool:
    """Staff and leads always; a member when they sit in one of its networks' channels."""
    if authorize(actor, "ask_any"):
        return True
    for network in await target_networks(services.db, consultation):
        if actor.user_id in await services.members.members(network.channel_id):
            return True
    return False


async def thread_consultation(db: Database, channel_id: str, thread_ts: str) -> str | None:
    """The consultation whose launch post is the message `thread_ts` in `channel_id`, if any."""
    async with db.read_session() as session:
        found = (
            await session.exec(
                select(ConsultationPost.consultation_id)
                .join(OutboxMessage, col(OutboxMessage.id) == col(ConsultationPost.outbox_id))
                .where(
                    OutboxMessage.result_ts == thread_ts,
                    OutboxMessage.result_channel == channel_id,
                )
            )
        ).first()
    return found


async def ask(
    services: Services,
    consultation_id: str,
    actor: Actor,
    text: str,
    *,
    delivery_key: str,
    channel_id: str | None = None,
    thread_ts: str | None = None,
) -> Asked:
    """Store a member's question and answer it from the FAQ, or pass it to staff."""
    text = text.strip()[:MAX_QUESTION]
    if not text:
        raise ConsultationError(f"Usage: `/consult ask {consultation_id} QUESTION`.")
    async with services.db.session() as session:
        consultation = await session.get(Consultation, consultation_id)
        if consultation is None or consultation.status == "draft":
            raise ConsultationError(f"There is no consultation with id '{consultation_id}'.")
    if thread_ts is None and not await is_consulted(services, actor, consultation):
        raise ConsultationError(
            f"Only members of the networks consulted on `{consultation_id}` can ask about it."
        )
    async with services.db.session() as session:
        items = await faq_items(session, consultation_id)
        match = best_match(text, items)
        question_id = await insert_or_ignore(
            session,
            MemberQuestion,
            {
                "delivery_key": delivery_key,
                "consultation_id": consultation_id,
                "asked_by": actor.user_id,
                "text": text,
                "asked_at": utcnow(),
                "channel_id": channel_id,
                "thread_ts": thread_ts,
                "status": "from_faq" if match else "with_staff",
                "faq_entry_id": match.item.entry_id if match else None,
                "match_score": round(match.score, 4) if match else None,
            },
            ["delivery_key"],
            returning=MemberQuestion.id,
        )
        repeated = question_id is None
        question = (
            await session.exec(
                select(MemberQuestion).where(MemberQuestion.delivery_key == delivery_key)
            )
        ).one()
        if question.faq_entry_id is not None:
            match = next(
                (
                    FaqMatch(i, question.match_score or 0.0)
                    for i in items
                    if i.entry_id == question.faq_entry_id
                ),
                None,
            )
        number = next(
            (n for n, i in enumerate(items, 1) if match and i.entry_id == match.item.entry_id),
            None,
        )
        asked = Asked(question, consultation, match, number, repeated)
        if not repeated:
            await _deliver(session, asked)
    services.outbox.wake()
    return asked


async def _deliver(session: AsyncSession, asked: Asked) -> None:
    """In the transaction that stored the question: the thread reply, the staff DMs."""
    question, consultation = asked.question, asked.consultation
    if question.thread_ts is not None and question.channel_id is not None:
        await enqueue(
            session,
            dedup_key=f"question-reply:{question.id}",
            method="chat.postMessage",
            channel=question.channel_id,
            payload={
                "channel": question.channel_id,
                "thread_ts": question.thread_ts,
                **asked.reply(),
            },
            consultation_id=consultation.id,
        )
    if asked.match is not None:
        return
    for staff in (await session.exec(select(StaffMember.user_id))).all():
        await enqueue(
            session,
            dedup_key=f"question-to-staff:{question.id}:{staff}",
            method="chat.postMessage",
            channel=staff,
            payload=_staff_dm(question, consultation, staff),
            consultation_id=consultation.id,
        )


def _staff_dm(
    question: MemberQuestion,
    consultation: Consultation,
    staff: str,
    *,
    answered_by: str | None = None,
) -> dict[str, Any]:
    """A staff member's DM of a question: with its Answer button, or who answered it."""
    where = "in the thread of its post" if question.thread_ts else "with /consult ask"
    return {
        "channel": staff,
        **question_for_staff(
            consultation,
            question_id=question.id or 0,
            asked_by=question.asked_by,
            text=question.text,
            where=where,
            answered_by=answered_by,
        ),
    }


async def _close_staff_dms(
    session: AsyncSession, question: MemberQuestion, consultation: Consultation, answered_by: str
) -> None:
    """Every staff DM of an answered question loses its Answer button and says who answered:
    a chat.update of each, sent once its DM has been (the outbox waits on the DM's row)."""
    prefix = f"question-to-staff:{question.id}:"
    dms = (
        await session.exec(
            select(OutboxMessage).where(col(OutboxMessage.dedup_key).startswith(prefix))
        )
    ).all()
    for dm in dms:
        await enqueue(
            session,
            dedup_key=f"question-answered:{question.id}:{dm.channel}",
            method="chat.update",
            channel=dm.channel,
            payload=_staff_dm(question, consultation, dm.channel, answered_by=answered_by),
            depends_on_id=dm.id,
            consultation_id=consultation.id,
        )


@dataclass(frozen=True)
class Answered:
    question: MemberQuestion
    consultation: Consultation
    answered_now: bool  # False: someone had answered it already (question.answered_by)


async def open_question(db: Database, question_id: int) -> tuple[MemberQuestion, Consultation]:
    async with db.read_session() as session:
        question = await session.get(MemberQuestion, question_id)
        consultation = (
            await session.get(Consultation, question.consultation_id) if question else None
        )
    if question is None or consultation is None:
        raise ConsultationError("That question is no longer there.")
    return question, consultation


async def answer_question(
    services: Services, question_id: int, staff_user: str, answer: str
) -> Answered:
    """Staff's answer: the first one sent goes to the asker (thread or DM), once."""
    answer = answer.strip()
    if not answer:
        raise ConsultationError("Write an answer first.")
    async with services.db.session() as session:
        result = await session.exec(  # type: ignore[call-overload]
            update(MemberQuestion)
            .where(
                col(MemberQuestion.id) == question_id, col(MemberQuestion.status) == "with_staff"
            )
            .values(status="answered", answer=answer, answered_by=staff_user, answered_at=utcnow())
        )
        question = await session.get(MemberQuestion, question_id)
        if question is None:
            raise ConsultationError("That question is no longer there.")
        await session.refresh(question)
        consultation = await session.get(Consultation, question.consultation_id)
        assert consultation is not None
        if result.rowcount != 1:
            return Answered(question, consultation, answered_now=False)
        in_thread = question.thread_ts is not None and question.channel_id is not None
        target = question.channel_id if in_thread else question.asked_by
        assert target is not None
        reply: dict[str, Any] = {
            "channel": target,
            **staff_answer(
                consultation,
                asked_by=question.asked_by,
                question=question.text,
                answer=answer,
                answered_by=staff_user,
            ),
        }
        if in_thread:
            reply["thread_ts"] = question.thread_ts
        await enqueue(
            session,
            dedup_key=f"question-answer:{question_id}",
            method="chat.postMessage",
            channel=target,
            payload=reply,
            consultation_id=consultation.id,
        )
        await enqueue(
            session,
            dedup_key=f"question-answer-sent:{question_id}",
            method="chat.postMessage",
            channel=staff_user,
            payload={
                "channel": staff_user,
                **answer_sent(consultation, question_id=question_id, asked_by=question.asked_by),
            },
            consultation_id=consultation.id,
        )
        await _close_staff_dms(session, question, consultation, staff_user)
        record(session, staff_user, "question.answer", consultation.id, question=question_id)
    services.outbox.wake()
    return Answered(question, consultation, answered_now=True)


@dataclass(frozen=True)
class AddedToFaq:
    entry_number: int
    added_now: bool


async def add_to_faq(
    services: Services,
    question_id: int,
    staff_user: str,
    *,
    channel_id: str | None = None,
    message_ts: str | None = None,
) -> AddedToFaq:
    """Store staff's answer as a new entry of the consultation's FAQ (once, however often the
    button is pressed), and mark the DM it was pressed in."""
    async with services.db.session() as session:
        question = await session.get(MemberQuestion, question_id)
        if question is None or question.answer is None:
            raise ConsultationError("That question has no answer to add yet.")
        count = (
            await session.exec(
                select(func.count()).where(FaqEntry.consultation_id == question.consultation_id)
            )
        ).one()
        added = await insert_or_ignore(
            session,
            FaqEntry,
            {
                "consultation_id": question.consultation_id,
                "position": count,
                "question": question.text,
                "answer": question.answer,
                "source": "staff",
                "from_question_id": question_id,
                "added_by": staff_user,
                "added_at": utcnow(),
            },
            ["consultation_id", "from_question_id"],
        )
        items = await faq_items(session, question.consultation_id)
        entry = (
            await session.exec(
                select(FaqEntry).where(
                    FaqEntry.consultation_id == question.consultation_id,
                    FaqEntry.from_question_id == question_id,
                )
            )
        ).one()
        number = next(n for n, i in enumerate(items, 1) if i.entry_id == entry.id)
        consultation = await session.get(Consultation, question.consultation_id)
        assert consultation is not None
        if added:
            record(
                session, staff_user, "faq.add", consultation.id, question=question_id, entry=number
            )
        # Only the staff member's own DM with the bot is edited (the click's channel and ts
        # come from the payload and must never let anyone rewrite another message).
        if channel_id and message_ts and channel_id.startswith("D"):
            await enqueue(
                session,
                dedup_key=f"faq-added:{question_id}:{message_ts}",
                method="chat.update",
                channel=channel_id,
                payload={
                    "channel": channel_id,
                    "ts": message_ts,
                    **answer_sent(
                        consultation,
                        question_id=question_id,
                        asked_by=question.asked_by,
                        added_to_faq=number,
                    ),
                },
                consultation_id=consultation.id,
            )
    services.outbox.wake()
    return AddedToFaq(number, bool(added))


async def ask_in_thread(
    services: Services,
    user_id: str,
    text: str,
    *,
    channel_id: str,
    thread_ts: str,
    ts: str,
) -> Asked | None:
    """A member's reply in a thread: asked when it reads as a question in the thread of one of
    our launch posts; anything else (thanks, other threads) is left alone and gives None."""
    if not reads_as_question(text):
        return None
    consultation_id = await thread_consultation(services.db, channel_id, thread_ts)
    if consultation_id is None:  # not a thread of ours: never answer there
        return None
    actor = await resolve_actor(services.db, user_id)
    return await ask(
        services,
        consultation_id,
        actor,
        text,
        delivery_key=f"message:{channel_id}:{ts}",
        channel_id=channel_id,
        thread_ts=thread_ts,
    )
