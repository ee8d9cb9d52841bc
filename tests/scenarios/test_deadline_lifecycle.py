"""The deadline: the consultation closes by itself (posts say Closed, a closing note, late answers
refused with their text given back), staff extend (posts offer Respond again) and close it (from
the command or the App Home), members may not; leads and staff see the status."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import Harness
from storage.models import Consultation, ReminderPlan, Response, utcnow
from tests.scenarios.test_answering import post_in, stance_values, text_of
from tests.scenarios.test_reminder_rounds import (
    ANSWERED,
    CHANNELS,
    NOT_ANSWERED,
    STAFF,
    answer,
    drain,
    start,
)

LEAD_NW = "U0LEADNW1"


def has_respond_button(message: Any) -> bool:
    return any(
        element.get("action_id") == "respond"
        for block in message.blocks or []
        for element in block.get("elements", [])
    )


def shows_closed(h: Harness) -> bool:
    return all(
        "Closed" in text_of(post_in(h, c)) and not has_respond_button(post_in(h, c))
        for c in CHANNELS.values()
    )


def shows_open(h: Harness) -> bool:
    return all(has_respond_button(post_in(h, c)) for c in CHANNELS.values())


def notes(h: Harness, channel: str, marker: str) -> list[Any]:
    assert h.slack is not None
    post = post_in(h, channel)
    return [m for m in h.slack.thread_replies(channel, post.ts) if marker in text_of(m)]


async def command(h: Harness, user: str, text: str, replies: int = 1) -> str:
    """Run a slash command and return the last of the `replies` things the user is told."""
    assert h.slack is not None and h.driver is not None
    seen = len(h.slack.ephemerals(user))
    await h.driver.slash_command(user, text)
    await h.slack.wait_for(lambda: len(h.slack.ephemerals(user)) >= seen + replies, timeout=10)
    await drain(h)
    return text_of(h.slack.ephemerals(user)[-1])


async def test_deadline_closes_refuses_late_answers_and_extend_reopens(harness: Harness) -> None:
    h = harness
    assert h.slack is not None and h.driver is not None
    await start(h, "dl-main")
    await answer(h, ANSWERED)
    late_view = await h.driver.open_modal_via(
        NOT_ANSWERED, "respond", message=post_in(h, "C0ICSNET")
    )
    async with h.services.db.session() as session:
        await session.exec(  # type: ignore[call-overload]
            update(Consultation).where(col(Consultation.id) == "dl-main").values(deadline=utcnow())
        )
    from bot.answering.responding import forget_consultation_state

    # The deadline moved behind the bot's back (as time passing would move "now"): no cache.
    forget_consultation_state(h.services, "dl-main")
    await h.slack.wait_for(lambda: shows_closed(h), timeout=10)
    await drain(h)
    for channel in CHANNELS.values():
        assert len(notes(h, channel, "has closed")) == 1
    assert "*1* member of the ICS Network responded" in text_of(
        notes(h, "C0ICSNET", "has closed")[0]
    )
    async with h.services.db.session() as session:
        plan = (
            await session.exec(
                select(ReminderPlan.status).where(ReminderPlan.consultation_id == "dl-main")
            )
        ).all()
    assert plan and set(plan) == {"cancelled"}

    # A late submission is refused and the member gets their text back.
    response = await h.driver.submit_view(
        NOT_ANSWERED, late_view, stance_values(late_view, "agree", "Sent just too late")
    )
    assert response.json is not None and response.json["response_action"] == "update"
    shown = render_blocks_as_text(response.json["view"]["blocks"])
    assert "closed" in shown and "Sent just too late" in shown

    # Members may neither extend nor close.
    assert "Only policy staff" in await command(h, NOT_ANSWERED, "extend dl-main +3d")
    assert "Only policy staff" in await command(h, NOT_ANSWERED, "close dl-main")

    # Staff extend: reopened, posts offer Respond again, reminders planned again.
    reply = await command(h, STAFF, "extend dl-main +3d")
    assert "reopened" in reply
    await h.slack.wait_for(lambda: shows_open(h), timeout=10)
    assert notes(h, "C0ICSNET", "has reopened")
    async with h.services.db.session() as session:
        consultation = await session.get(Consultation, "dl-main")
        plan = (
            await session.exec(
                select(ReminderPlan.status).where(ReminderPlan.consultation_id == "dl-main")
            )
        ).all()
    assert consultation is not None and consultation.status == "open"
    assert sorted(plan) == ["pending", "skipped"]  # 2d ahead; 7d already past
    view = await h.driver.open_modal_via(NOT_ANSWERED, "respond", message=post_in(h, "C0ICSNET"))
    await h.driver.submit_view(NOT_ANSWERED, view, stance_values(view, "agree", "Now in time"))
    await h.settle()  # recorded just after the ack

    # Staff close it again now: Closed, and a second closing note with the new count.
    assert "is closed" in await command(h, STAFF, "close dl-main")
    await h.slack.wait_for(lambda: shows_closed(h), timeout=10)
    await drain(h)
    ics_notes = notes(h, "C0ICSNET", "has closed")
    assert len(ics_notes) == 2
    assert "*2* members of the ICS Network responded" in text_of(ics_notes[-1])
    assert "already closed" in await command(h, STAFF, "close dl-main")
    async with h.services.db.session() as session:
        assert len((await session.exec(select(Response))).all()) == 2
    assert not h.slack.invalid_payloads


async def test_status_for_leads_and_close_now_from_the_app_home(harness: Harness) -> None:
    h = harness
    assert h.slack is not None and h.driver is not None
    await start(h, "dl-home")
    await answer(h, ANSWERED)
    await drain(h)

    status = await command(h, LEAD_NW, "status dl-home", replies=2)
    assert "ICS Network: 1 of 17 (6%)" in status
    assert "NHS Clinical Commissioners: 0 of 6 (0%)" in status
    assert "Next: 7d" in status and "Outbox:" in status
    assert "North West: 1" in status  # the lead's own region
    assert "Only policy staff and regional leads" in await command(
        h, NOT_ANSWERED, "status dl-home"
    )

    # A member's (forged) Close now click does nothing; staff's closes the consultation.
    await h.driver.click_button(NOT_ANSWERED, "home_close", "dl-home")
    async with h.services.db.session() as session:
        consultation = await session.get(Consultation, "dl-home")
    assert consultation is not None and consultation.status == "open"
    await h.driver.app_home_opened(STAFF)
    await h.slack.wait_for(lambda: h.slack.home_view(STAFF), timeout=10)
    await h.driver.click_in_home(STAFF, "home_close", "dl-home")
    await h.slack.wait_for(lambda: shows_closed(h), timeout=10)
    async with h.services.db.session() as session:
        consultation = await session.get(Consultation, "dl-home")
    assert consultation is not None and consultation.status == "closed"

    # The staff member's home is published again once the close is done, without the item.
    def home_text() -> str:
        return render_blocks_as_text(h.slack.home_view(STAFF)["blocks"])  # type: ignore[index]

    await h.slack.wait_for(lambda: "Close now" not in home_text(), timeout=10)
    assert "dl-home" not in home_text()


async def test_stopping_the_bot_lets_a_close_clicked_just_before_finish(harness: Harness) -> None:
    """A deploy stops the bot just after staff clicked Close now: the click's work (close, then
    the App Home published again, here slowed by Slack) is finished before stop returns."""
    h = harness
    assert h.slack is not None and h.driver is not None
    await start(h, "dl-stop")
    await h.driver.app_home_opened(STAFF)
    await h.slack.wait_for(lambda: h.slack.home_view(STAFF), timeout=10)

    h.slack.fail_next("views.publish", delay=2.0)
    await h.driver.click_in_home(STAFF, "home_close", "dl-stop")  # returns at the ack
    await h.stop_app()

    home = render_blocks_as_text(h.slack.home_view(STAFF)["blocks"])  # type: ignore[index]
    assert "dl-stop" not in home and "Close now" not in home
    await h.start_app()
    async with h.services.db.session() as session:
        consultation = await session.get(Consultation, "dl-stop")
    assert consultation is not None and consultation.status == "closed"
