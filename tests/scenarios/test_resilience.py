"""Things going wrong around the members: a network channel the bot cannot read, a launch post
that failed, an anonymous consultation's traces, and a large workspace's reminder round."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.demo.sandbox.harness import EXAMPLES, Harness
from storage.models import OutboxMessage, Response, utcnow
from tests.scenarios.test_answering import STAFF, launch, post_in, stance_values


async def _add(h: Harness, consultation_id: str, **overrides: object) -> None:
    await h.add_consultation_file(
        EXAMPLES / "integrating-care.yaml",
        id=consultation_id,
        deadline=utcnow() + timedelta(days=5),
        **overrides,
    )


async def test_an_unreadable_network_channel_does_not_stop_other_networks(
    harness: Harness,
) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await _add(h, "ic-bad-channel")
    await launch(h, "ic-bad-channel")
    # The PCN channel becomes unreadable (e.g. archived or the bot removed from it).
    h.slack.fail_next(
        "conversations.members", count=50, error="channel_not_found", channel="C0PCNNET"
    )
    h.services.members.forget()
    member = next(u for u in h.slack.channels["C0ICSNET"].members if u.startswith("U0M"))
    view = await h.driver.open_modal_via(member, "respond", message=post_in(h, "C0ICSNET"))
    assert view["callback_id"] == "consultation_response"
    response = await h.driver.submit_view(member, view, stance_values(view, "agree"))
    assert response.status == 200 and not (response.json or {}).get("errors")
    await h.settle()
    async with h.services.db.session() as session:
        assert (await session.exec(select(Response))).all()


async def test_a_failed_launch_post_is_posted_when_staff_launch_again(harness: Harness) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await _add(h, "ic-relaunch")
    h.slack.set_bot_membership("C0MHNET", False)
    await launch(h, "ic-relaunch")
    assert not h.slack.top_level_messages("C0MHNET")
    failures = [m for m in h.slack.ephemerals(STAFF) if "not_in_channel" in (m.text or "")]
    assert failures, "the launcher was not told which channel failed"
    h.slack.set_bot_membership("C0MHNET", True)  # someone invites the bot
    await launch(h, "ic-relaunch")
    post_in(h, "C0MHNET")  # exactly one now
    for channel in ("C0ICSNET", "C0NHSCC", "C0COMMNET", "C0PCNNET"):
        post_in(h, channel)  # still exactly one each


async def test_anonymous_receipts_leave_no_link_between_member_and_pseudonym(
    harness: Harness,
) -> None:
    h = harness
    assert h.driver is not None and h.slack is not None
    await _add(h, "ic-anon", anonymous=True)
    await launch(h, "ic-anon")
    member = next(u for u in h.slack.channels["C0ICSNET"].members if u.startswith("U0M"))
    view = await h.driver.open_modal_via(member, "respond", message=post_in(h, "C0ICSNET"))
    await h.driver.submit_view(member, view, stance_values(view, "agree", "Quietly"))
    await h.settle()
    assert any("anonymous" in str(m.blocks) for m in h.slack.dm_messages(member))
    async with h.services.db.session() as session:
        response = (await session.exec(select(Response))).one()
        rows = (await session.exec(select(OutboxMessage))).all()
    assert response.user_id is None and member not in response.respondent_key
    for row in rows:
        linked = member in (row.channel or "") or member in str(row.payload)
        assert not (linked and response.respondent_key in row.dedup_key), row.dedup_key
        assert not (row.channel == member and row.consultation_id == "ic-anon"), row.dedup_key


async def test_a_reminder_round_reads_the_workspace_in_pages_not_person_by_person(
    harness: Harness,
) -> None:
    from bot.engagement.reminders import send_due_reminders
    from storage.models import ReminderPlan

    h = harness
    assert h.slack is not None
    await _add(h, "ic-people", reminders=["2d"])
    await launch(h, "ic-people")
    async with h.services.db.session() as session:
        plan = (await session.exec(select(ReminderPlan))).one()
        plan.due_at = utcnow() - timedelta(seconds=1)
        session.add(plan)
    before = h.slack.count("users.info")
    await send_due_reminders(h.services)
    # The ticker may have claimed the round first: let it finish (DMs may wait for 09:00).
    await h.slack.wait_for(lambda: h.services.working == 0, timeout=10)
    assert h.slack.count("users.list") >= 1
    assert h.slack.count("users.info") == before
    # The DMs are queued (sent now or at 09:00 in each member's own time zone).
    async with h.services.db.session() as session:
        dms = (
            await session.exec(select(OutboxMessage).where(OutboxMessage.channel == "U0M001"))
        ).all()
    assert any(row.dedup_key.startswith("reminder") for row in dms), [r.dedup_key for r in dms]


async def _failing_for_good(h: Harness, consultation_id: str, member: str) -> int:
    """A submission accepted into the inbox that has now failed to record five times."""
    from bot.answering.inbox import MAX_ATTEMPTS
    from storage.models import InboxSubmission

    assert h.driver is not None
    view = await h.driver.open_modal_via(member, "respond", message=post_in(h, "C0ICSNET"))
    values = stance_values(view, "disagree", "Integration must not mean cuts")
    await h.services.inbox.stop()  # accepted, not yet recorded
    await h.driver.submit_view(member, view, values)
    async with h.services.db.session() as session:
        row = (await session.exec(select(InboxSubmission))).one()
        row.attempts = MAX_ATTEMPTS
        session.add(row)
    assert row.id is not None
    await h.services.inbox._park_if_hopeless(row.id, "OperationalError: disk I/O error")
    await h.settle()
    return row.id


async def test_a_submission_that_cannot_be_recorded_is_given_back_and_kept_for_staff(
    harness: Harness,
) -> None:
    from storage.models import InboxSubmission

    h = harness
    assert h.slack is not None
    await _add(h, "ic-parked")
    await launch(h, "ic-parked")
    member = next(u for u in h.slack.channels["C0ICSNET"].members if u.startswith("U0M"))
    inbox_id = await _failing_for_good(h, "ic-parked", member)

    told = h.slack.dm_messages(member)[-1]
    assert "could not record" in str(told.blocks) and "Integration must not mean cuts" in str(
        told.blocks
    )
    async with h.services.db.session() as session:
        kept = await session.get(InboxSubmission, inbox_id)
    assert kept is not None and kept.error and "disk I/O" in kept.error


async def test_an_anonymous_submission_that_cannot_be_recorded_leaves_nothing_behind(
    harness: Harness,
) -> None:
    from storage.models import InboxSubmission

    h = harness
    assert h.slack is not None
    await _add(h, "ic-parked-anon", anonymous=True)
    await launch(h, "ic-parked-anon")
    member = next(u for u in h.slack.channels["C0ICSNET"].members if u.startswith("U0M"))
    await _failing_for_good(h, "ic-parked-anon", member)

    assert "Integration must not mean cuts" in str(h.slack.dm_messages(member)[-1].blocks)
    async with h.services.db.session() as session:
        assert not (await session.exec(select(InboxSubmission))).all()
        outbox = (await session.exec(select(OutboxMessage))).all()
    assert not any(member in (row.channel or "") for row in outbox)
