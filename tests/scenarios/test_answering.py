"""Members answer in Slack: staff launch into the network channels, a member responds through the
modal, gets a receipt, edits; retries, late answers, outsiders and non-staff are handled."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import select

from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import Harness
from storage.models import Answer, Response, ResponseRevision

STAFF = "U01STAFF01"
MEMBER = "U0M001"  # in the directory, ICS Network
UNKNOWN_PROFILE = "U0M007"  # in a channel but not in the directory's members
OUTSIDER = "U0LEADLDN"  # a lead who sits in no network channel
CHANNELS = ["C0ICSNET", "C0MHNET", "C0NHSCC", "C0COMMNET", "C0PCNNET"]


def text_of(message: Any) -> str:
    return (message.text or "") + "\n" + render_blocks_as_text(message.blocks)


async def launch(h: Harness, consultation_id: str = "integrating-care") -> None:
    assert h.driver is not None
    assert h.slack is not None
    seen = len(h.slack.ephemerals(STAFF))
    response = await h.driver.slash_command(STAFF, f"launch {consultation_id}")
    assert response.status == 200
    await h.slack.wait_for(
        lambda: any(
            "networks." in text_of(m) or "failed" in text_of(m)
            for m in h.slack.ephemerals(STAFF)[seen:]
        ),
        timeout=15,
    )
    await h.settle()


def post_in(h: Harness, channel: str) -> Any:
    assert h.slack is not None
    posts = h.slack.top_level_messages(channel)
    assert len(posts) == 1, f"{channel} has {len(posts)} posts"
    return posts[0]


async def launched_form(h: Harness, consultation_id: str) -> dict[str, Any]:
    """The example consultation launched as `consultation_id`, and the Respond modal MEMBER
    opens from its post in their network's channel."""
    await h.add_consultation_file(
        harness_examples("integrating-care.yaml"), id=consultation_id, deadline=future()
    )
    await launch(h, consultation_id)
    assert h.driver is not None
    return await h.driver.open_modal_via(MEMBER, "respond", message=post_in(h, "C0ICSNET"))


def stance_values(view: dict[str, Any], stance: str = "agree", comment: str | None = None) -> dict:
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        block_id = block.get("block_id", "")
        if block_id.startswith("choice:"):
            values[block_id] = stance
        elif block_id.startswith("comment:") and comment is not None:
            values[block_id] = comment
    return values


async def test_launch_posts_once_per_network_and_tells_the_launcher(harness: Harness) -> None:
    await harness.add_consultation_file(
        harness_examples("integrating-care.yaml"), id="ic-launch", deadline=future()
    )
    await launch(harness, "ic-launch")
    assert harness.slack is not None
    for channel in CHANNELS:
        post = post_in(harness, channel)
        text = text_of(post)
        assert "Integrating care" in text and "Deadline" in text
        assert "Respond" in text
    await harness.slack.wait_for(
        lambda: any(
            "posted to all 5 networks" in text_of(m) for m in harness.slack.ephemerals(STAFF)
        )
    )
    # Launching again posts nothing new.
    await launch(harness, "ic-launch")
    for channel in CHANNELS:
        post_in(harness, channel)
    assert not harness.slack.invalid_payloads


async def test_member_answers_gets_a_receipt_edits_and_both_revisions_are_kept(
    harness: Harness,
) -> None:
    await harness.add_consultation_file(
        harness_examples("integrating-care.yaml"),
        id="ic-live",
        deadline=future(),
    )
    await launch(harness, "ic-live")
    assert harness.driver is not None and harness.slack is not None
    post = post_in(harness, "C0ICSNET")
    view = await harness.driver.open_modal_via(MEMBER, "respond", message=post)
    assert view["callback_id"] == "consultation_response"
    first = await harness.driver.submit_view(
        MEMBER, view, {**stance_values(view, "agree", "Workforce first <!channel> <@U123>")}
    )
    assert first.status == 200
    # Saved the moment Slack is acked: the modal says so (and that a receipt follows), before
    # the answer is recorded and the receipt sent.
    assert first.json["response_action"] == "update"
    saved = render_blocks_as_text(first.json["view"]["blocks"])
    assert "is saved" in saved and "receipt" in saved
    await harness.settle()
    receipt = harness.slack.dm_messages(MEMBER)[-1]
    receipt_text = text_of(receipt)
    assert "Agree" in receipt_text
    assert "&lt;!channel&gt;" in (receipt.blocks and str(receipt.blocks))
    assert "<!channel>" not in str(receipt.blocks)

    edit_view = await harness.driver.open_modal_via(MEMBER, "edit_response", message=receipt)
    prefilled = [
        b["element"].get("initial_option", {}).get("value")
        for b in edit_view["blocks"]
        if b.get("block_id", "").startswith("choice:")
    ]
    assert prefilled == ["agree"] * 4
    await harness.driver.submit_view(
        MEMBER, edit_view, stance_values(edit_view, "disagree", "Changed my mind")
    )
    await harness.settle()
    async with harness.services.db.session() as session:
        response = (await session.exec(select(Response).where(Response.user_id == MEMBER))).one()
        revisions = (await session.exec(select(ResponseRevision))).all()
        comments = set((await session.exec(select(Answer.comment))).all())
    assert response.revision_count == 2 and len(revisions) == 2
    assert "Workforce first <!channel> <@U123>" in comments  # stored verbatim
    assert "Changed my mind" in comments
    # The channel post shows the live count.
    await harness.slack.wait_for(
        lambda: (
            "1* member of the ICS Network has responded" in text_of(post_in(harness, "C0ICSNET"))
        ),
        timeout=10,
    )
    assert not harness.slack.invalid_payloads


async def test_retried_submission_records_one_revision(harness: Harness) -> None:
    view = await launched_form(harness, "ic-retry")
    assert harness.driver is not None
    values = stance_values(view, "agree", "Once only")
    for retry in (None, 1, 2):
        response = await harness.driver.submit_view(MEMBER, view, values, retry_num=retry)
        assert response.status == 200
    await harness.settle()
    async with harness.services.db.session() as session:
        revisions = (await session.exec(select(ResponseRevision))).all()
    assert len(revisions) == 1


async def test_a_comment_with_an_invisible_nul_character_is_saved_without_it(
    harness: Harness,
) -> None:
    """PostgreSQL refuses NUL in text: pasted into a comment, it must not cost the answer."""
    view = await launched_form(harness, "ic-nul")
    assert harness.driver is not None
    response = await harness.driver.submit_view(
        MEMBER, view, stance_values(view, "agree", "Pasted\x00 from a PDF")
    )
    assert response.status == 200
    assert "errors" not in (response.body or "")
    await harness.settle()
    async with harness.services.db.session() as session:
        comments = [a.comment for a in (await session.exec(select(Answer))).all() if a.comment]
    assert "Pasted from a PDF" in comments


async def test_overlong_comment_is_refused_in_the_modal(harness: Harness) -> None:
    view = await launched_form(harness, "ic-long")
    assert harness.driver is not None
    response = await harness.driver.submit_view(
        MEMBER, view, stance_values(view, "agree", "x" * 3001)
    )
    assert response.json is not None and response.json["response_action"] == "errors"
    assert any("3,000 characters" in message for message in response.json["errors"].values())
    async with harness.services.db.session() as session:
        assert not (await session.exec(select(Response))).all()


async def test_unknown_member_is_asked_region_and_organisation_once(harness: Harness) -> None:
    await harness.add_consultation_file(
        harness_examples("integrating-care.yaml"), id="ic-profile", deadline=future()
    )
    await launch(harness, "ic-profile")
    assert harness.driver is not None and harness.slack is not None
    channel = next(c for c in CHANNELS if UNKNOWN_PROFILE in harness.slack.channels[c].members)
    view = await harness.driver.open_modal_via(
        UNKNOWN_PROFILE, "respond", message=post_in(harness, channel)
    )
    block_ids = {b.get("block_id") for b in view["blocks"]}
    assert {"profile_region", "profile_organisation"} <= block_ids
    values = {
        **stance_values(view, "undecided"),
        "profile_region": "london",
        "profile_organisation": "Example Trust",
    }
    await harness.driver.submit_view(UNKNOWN_PROFILE, view, values)
    await harness.settle()
    again = await harness.driver.open_modal_via(
        UNKNOWN_PROFILE, "respond", message=post_in(harness, channel)
    )
    assert "profile_region" not in {b.get("block_id") for b in again["blocks"]}
    async with harness.services.db.session() as session:
        response = (await session.exec(select(Response))).one()
    assert (response.region_id, response.organisation) == ("london", "Example Trust")


async def test_late_answer_outsider_and_non_staff_launch_are_refused(harness: Harness) -> None:
    assert harness.driver is not None and harness.slack is not None
    # Non-staff launch.
    await harness.driver.slash_command(MEMBER, "launch integrating-care")
    assert "Only policy staff" in text_of(harness.slack.ephemerals(MEMBER)[-1])
    assert not harness.slack.top_level_messages("C0ICSNET")

    await harness.add_consultation_file(
        harness_examples("integrating-care.yaml"), id="ic-refuse", deadline=future()
    )
    await launch(harness, "ic-refuse")
    post = post_in(harness, "C0ICSNET")
    # An outsider pressing Respond is told which networks are consulted.
    outsider_view = await harness.driver.open_modal_via(OUTSIDER, "respond", message=post)
    assert "ICS Network" in render_blocks_as_text(outsider_view["blocks"])
    assert "gathers the views of members of" in render_blocks_as_text(outsider_view["blocks"])

    # A member's modal submitted after the deadline: refused, and the text is given back.
    view = await harness.driver.open_modal_via(MEMBER, "respond", message=post)
    async with harness.services.db.session() as session:
        from storage.models import Consultation, utcnow

        consultation = await session.get(Consultation, "ic-refuse")
        assert consultation is not None
        consultation.deadline = utcnow()
        session.add(consultation)
    from bot.answering.responding import forget_consultation_state

    # The deadline moved behind the bot's back (as time passing would move "now"): no cache.
    forget_consultation_state(harness.services, "ic-refuse")
    response = await harness.driver.submit_view(
        MEMBER, view, stance_values(view, "agree", "Too late, sadly")
    )
    assert response.json is not None and response.json["response_action"] == "update"
    shown = render_blocks_as_text(response.json["view"]["blocks"])
    assert "closed" in shown and "Too late, sadly" in shown
    async with harness.services.db.session() as session:
        assert not (await session.exec(select(Response))).all()


def harness_examples(name: str):
    from bot.demo.sandbox.harness import EXAMPLES

    return EXAMPLES / name


def future():
    from datetime import timedelta

    from storage.models import utcnow

    return utcnow() + timedelta(days=10)


async def test_launch_after_the_deadline_is_refused_with_a_reason(harness: Harness) -> None:
    assert harness.driver is not None and harness.slack is not None
    await harness.driver.slash_command(STAFF, "launch integrating-care")
    await harness.slack.wait_for(lambda: harness.slack.ephemerals(STAFF))
    await harness.slack.wait_for(
        lambda: any("deadline" in text_of(m) for m in harness.slack.ephemerals(STAFF))
    )
    assert not harness.slack.top_level_messages("C0ICSNET")


async def test_someone_added_to_a_channel_after_launch_can_answer_at_once(
    harness: Harness,
) -> None:
    assert harness.driver is not None and harness.slack is not None
    await harness.add_consultation_file(
        harness_examples("integrating-care.yaml"), id="ic-joiner", deadline=future()
    )
    await launch(harness, "ic-joiner")
    post = post_in(harness, "C0ICSNET")
    outsider_view = await harness.driver.open_modal_via(OUTSIDER, "respond", message=post)
    assert "gathers the views of members of" in render_blocks_as_text(outsider_view["blocks"])

    # Their lead adds them to the network's channel; the bot read it moments ago. (Not
    # asking Slack again on every miss: at most once per `miss_recheck` per channel.)
    harness.services.members.miss_recheck = 0.0
    harness.slack.set_members("C0ICSNET", [*harness.slack.channels["C0ICSNET"].members, OUTSIDER])
    view = await harness.driver.open_modal_via(OUTSIDER, "respond", message=post)
    values = {
        **stance_values(view, "agree"),
        "profile_region": "london",
        "profile_organisation": "Example Trust",
    }
    response = await harness.driver.submit_view(OUTSIDER, view, values)
    await harness.settle()

    assert response.status == 200  # accepted: the modal says it is saved
    assert "is saved" in render_blocks_as_text(response.json["view"]["blocks"])
    async with harness.services.db.session() as session:
        assert len((await session.exec(select(Response))).all()) == 1


async def test_quote_attribution_is_the_name_slack_has_not_one_the_submission_claims(
    harness: Harness,
) -> None:
    view = await launched_form(harness, "ic-names")
    assert harness.driver is not None
    # A forged submission carrying someone else's name in the form's metadata.
    metadata = json.loads(view["private_metadata"])
    view["private_metadata"] = json.dumps({**metadata, "n": "The Chief Executive"})
    await harness.driver.submit_view(MEMBER, view, stance_values(view, "agree", "Quote me"))
    await harness.settle()

    async with harness.services.db.session() as session:
        response = (await session.exec(select(Response))).one()
    assert response.display_name == "Sarah Whitfield"
