"""Members' questions as they see them: a reworded FAQ question asked in the thread of the launch
post is answered there from the FAQ (naming the entry); an unrelated one goes to staff, whose
answer comes back in the thread and can be added to the FAQ with one click, after which the
next member asking is answered at once. Bots, other threads and retried events get no reply."""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, func, select

from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import EXAMPLES, Harness
from storage.models import Consultation, FaqEntry, MemberQuestion, utcnow
from tests.scenarios.test_answering import launch, post_in, text_of
from tests.scenarios.test_deadline_lifecycle import command
from tests.scenarios.test_reminder_rounds import drain

STAFF = ["U01STAFF01", "U01STAFF02"]
ASKER = "U0M002"  # ICS Network
SECOND_ASKER = "U0M008"  # ICS Network
NOT_CONSULTED = "U0M003"  # Mental Health Network only
REWORDED = "Is a statutory ICS just a CCG under a new name?"  # FAQ entry 8, reworded
UNRELATED = "Will the mental health investment standard continue? <!channel>"
ANSWER = "Yes: the standard stays in place for 2021/22, and ICSs must meet it."


def replies(h: Harness) -> list[Any]:
    assert h.slack is not None
    post = post_in(h, "C0ICSNET")
    return [m for m in h.slack.thread_replies("C0ICSNET", post.ts) if m.user == h.slack.bot_user_id]


def staff_dms(h: Harness, user: str, marker: str) -> list[Any]:
    assert h.slack is not None
    return [m for m in h.slack.dm_messages(user) if marker in text_of(m)]


async def ask_in_thread(h: Harness, user: str, text: str, **kwargs: Any) -> Any:
    assert h.driver is not None
    message, response = await h.driver.post_message(
        user, "C0ICSNET", text, thread_ts=post_in(h, "C0ICSNET").ts, **kwargs
    )
    assert response.status == 200
    return message


async def start(h: Harness, consultation_id: str) -> None:
    await h.add_consultation_file(
        EXAMPLES / "integrating-care.yaml", id=consultation_id, networks=["ics-network"]
    )
    async with h.services.db.session() as session:
        await session.exec(  # type: ignore[call-overload]
            update(Consultation)
            .where(col(Consultation.id) == consultation_id)
            .values(deadline=utcnow() + timedelta(days=10))
        )
    await launch(h, consultation_id)


async def test_thread_question_answered_from_the_faq_or_by_staff_who_add_it_to_the_faq(
    harness: Harness,
) -> None:
    h = harness
    assert h.slack is not None and h.driver is not None
    await start(h, "mq-thread")

    # A reworded FAQ question: answered in the thread, saying which entry.
    await ask_in_thread(h, ASKER, REWORDED)
    await h.slack.wait_for(lambda: replies(h), timeout=10)
    faq_reply = text_of(replies(h)[0])
    assert "From the FAQ" in faq_reply and "entry 8" in faq_reply
    assert "How would a statutory ICS be different from a CCG?" in faq_reply
    assert "much wider remit" in faq_reply
    assert not any(staff_dms(h, s, "asked about") for s in STAFF)

    # An unrelated question: the asker is told it went to staff; each staff member gets it,
    # escaped, with an Answer button.
    await ask_in_thread(h, SECOND_ASKER, UNRELATED)
    await h.slack.wait_for(lambda: len(replies(h)) == 2, timeout=10)
    assert "passed your question to the policy team" in text_of(replies(h)[1])
    await h.slack.wait_for(lambda: all(staff_dms(h, s, "asked about") for s in STAFF), timeout=10)
    to_staff = staff_dms(h, STAFF[0], "asked about")[0]
    assert "&lt;!channel&gt;" in to_staff.blocks[0]["text"]["text"]
    assert "<!channel>" not in str(to_staff.blocks)
    assert f"<@{SECOND_ASKER}>" in text_of(to_staff) and "Answer" in text_of(to_staff)

    # What the second staff member's Slack still shows if it has not refreshed yet.
    stale = copy.deepcopy(staff_dms(h, STAFF[1], "asked about")[0])

    # Staff answer in the modal: the answer reaches the asker in the thread.
    modal = await h.driver.open_modal_via(STAFF[0], "answer_question", message=to_staff)
    assert "mental health investment standard" in text_of_view(modal)
    response = await h.driver.submit_view(STAFF[0], modal, {"answer": ANSWER})
    assert response.json is not None and response.json["response_action"] == "update"
    await h.slack.wait_for(lambda: len(replies(h)) == 3, timeout=10)
    answered = text_of(replies(h)[2])
    assert ANSWER in answered and f"<@{SECOND_ASKER}>" in answered
    # Every staff DM now says who answered, with no Answer button left to press.
    for member in STAFF:
        await h.slack.wait_for(
            lambda member=member: (
                f"Answered by <@{STAFF[0]}>" in text_of(staff_dms(h, member, "asked about")[0])
            ),
            timeout=10,
        )
        assert "answer_question" not in str(staff_dms(h, member, "asked about")[0].blocks)
    # A second staff member pressing Answer on a view not yet refreshed is told it is answered.
    await h.driver.click_in_message(STAFF[1], stale, "answer_question")
    await h.slack.wait_for(
        lambda: any("already answered" in text_of(m) for m in h.slack.ephemerals(STAFF[1])),
        timeout=10,
    )

    # Add to FAQ, clicked twice: one new entry, and the DM says which.
    await h.slack.wait_for(lambda: staff_dms(h, STAFF[0], "Your answer was sent"), timeout=10)
    sent = staff_dms(h, STAFF[0], "Your answer was sent")[0]
    await h.driver.click_in_message(STAFF[0], sent, "add_to_faq")
    await h.driver.click_in_message(STAFF[0], sent, "add_to_faq")
    await h.slack.wait_for(
        lambda: "Added to the FAQ as entry 11" in text_of(staff_dms(h, STAFF[0], "sent")[0]),
        timeout=10,
    )
    await drain(h)
    async with h.services.db.session() as session:
        entries = (
            await session.exec(select(func.count()).where(FaqEntry.consultation_id == "mq-thread"))
        ).one()
    assert entries == 11

    # The next member who asks the same is answered at once, from the new entry.
    reply = await command(
        h, ASKER, "ask mq-thread Is the mental health investment standard continuing?", replies=2
    )
    assert "From the FAQ" in reply and "entry 11" in reply and ANSWER in reply
    assert len(staff_dms(h, STAFF[0], "asked about")) == 1
    assert not h.slack.invalid_payloads


def text_of_view(view: dict[str, Any]) -> str:
    return render_blocks_as_text(view["blocks"])


async def test_bots_other_threads_and_retries_get_no_extra_reply(harness: Harness) -> None:
    h = harness
    assert h.slack is not None and h.driver is not None
    await start(h, "mq-quiet")
    post = post_in(h, "C0ICSNET")

    def bot_replies(thread_ts: str) -> list[Any]:
        assert h.slack is not None
        return [
            m
            for m in h.slack.thread_replies("C0ICSNET", thread_ts)
            if m.user == h.slack.bot_user_id
        ]

    # Another app's message in the thread, and a thanks that is no question: no reply.
    await ask_in_thread(h, "U0BOTPOLLY", "What is everyone's view?", bot_id="B0POLLY")
    await ask_in_thread(h, ASKER, "Thanks, done!")

    # A question delivered twice (Slack retries an event): one reply, one stored question.
    message, first = await h.driver.post_message(
        ASKER,
        "C0ICSNET",
        "Does this change how foundation trusts are held accountable?",
        thread_ts=post.ts,
    )
    assert first.payload is not None
    await h.driver.send_event(
        first.payload["event"], retry_num=1, event_id=first.payload["event_id"]
    )
    await h.slack.wait_for(lambda: bot_replies(post.ts), timeout=10)

    # A member's question in a thread that is not a consultation post: no reply.
    own, _ = await h.driver.post_message(ASKER, "C0ICSNET", "Lunch plans?")
    await h.driver.post_message(
        SECOND_ASKER,
        "C0ICSNET",
        "Why is new law needed for integrated care systems?",
        thread_ts=own.ts,
    )
    await asyncio.sleep(0.5)
    await drain(h)
    assert len(bot_replies(post.ts)) == 1
    assert "entry 9" in text_of(bot_replies(post.ts)[0])
    assert bot_replies(own.ts) == []
    async with h.services.db.session() as session:
        stored = (await session.exec(select(MemberQuestion))).all()
    assert [q.text for q in stored] == [
        "Does this change how foundation trusts are held accountable?"
    ]
    assert message.ts in stored[0].delivery_key

    # /consult ask: a member outside the consultation's networks is refused.
    # (The refusal may reach Slack before or after the ack's "Looking for an answer…".)
    seen = len(h.slack.ephemerals(NOT_CONSULTED))
    await command(h, NOT_CONSULTED, "ask mq-quiet Why legislate now?", replies=2)
    told = [text_of(m) for m in h.slack.ephemerals(NOT_CONSULTED)[seen:]]
    assert any("Only members of the networks" in t for t in told), told
