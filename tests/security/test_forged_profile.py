"""A member's region and organisation are taken from the Respond form only when the form asked
for them. A submission carrying the profile fields on a form that did not ask (Slack never sends
that; a forged payload could) cannot move the member, or their answers, to another region."""

from __future__ import annotations

from sqlmodel import select

from bot.demo.sandbox.harness import Harness
from storage.models import MemberProfile, Response
from tests.scenarios.test_answering import (
    CHANNELS,
    MEMBER,
    UNKNOWN_PROFILE,
    launched_form,
    post_in,
    stance_values,
)


async def test_profile_fields_on_a_form_that_did_not_ask_for_them_are_ignored(
    harness: Harness,
) -> None:
    view = await launched_form(harness, "ic-forged-profile")  # MEMBER has a profile: not asked
    assert harness.driver is not None and harness.slack is not None
    assert "profile_region" not in str(view["blocks"])
    async with harness.services.db.read_session() as session:
        before = await session.get(MemberProfile, MEMBER)
    assert before is not None and before.region_id != "london"
    # The profile blocks of a form that does ask, grafted onto this one.
    channel = next(c for c in CHANNELS if UNKNOWN_PROFILE in harness.slack.channels[c].members)
    asking = await harness.driver.open_modal_via(
        UNKNOWN_PROFILE, "respond", message=post_in(harness, channel)
    )
    grafted = [b for b in asking["blocks"] if str(b.get("block_id")).startswith("profile_")]
    forged = {**view, "blocks": [*view["blocks"], *grafted]}
    values = {
        **stance_values(view, "agree"),
        "profile_region": "london",
        "profile_organisation": "Not Theirs",
    }

    assert (await harness.driver.submit_view(MEMBER, forged, values)).status == 200
    await harness.settle()

    async with harness.services.db.read_session() as session:
        after = await session.get(MemberProfile, MEMBER)
        response = (await session.exec(select(Response))).one()
    assert after is not None
    assert (after.region_id, after.organisation) == (before.region_id, before.organisation)
    assert response.region_id == before.region_id and response.organisation != "Not Theirs"
