"""Staff define a consultation in Slack's form; mistakes come back next to the field."""

from __future__ import annotations

from bot.consultations.catalogue import get_consultation
from bot.demo.sandbox import render_blocks_as_text
from bot.demo.sandbox.harness import Harness

STAFF, MEMBER = "U01STAFF01", "U0M001"


async def test_staff_create_a_consultation_from_the_form(harness: Harness) -> None:
    assert harness.driver is not None
    form = await harness.driver.open_modal_via(STAFF, command_text="new")
    assert form["callback_id"] == "new_consultation"
    bad = await harness.driver.submit_view(
        STAFF,
        form,
        {
            "id": "Not A Slug",
            "title": "Workforce plan",
            "date": "2031-03-01",
            "time": "12:00",
            "questions": "Do you agree with the plan?\nWhich option? | Only one",
        },
    )
    assert bad.json is not None and bad.json["response_action"] == "errors"
    assert "lowercase" in bad.json["errors"]["id"]
    assert "at least two options" in bad.json["errors"]["questions"]

    good = await harness.driver.submit_view(
        STAFF,
        form,
        {
            "id": "workforce-plan",
            "title": "Workforce plan",
            "summary": "NHS England asks about the *long term workforce plan*.",
            "date": "2031-03-01",
            "time": "12:00",
            "networks": ["ics-network", "pcn-network"],
            "options": ["anonymous"],
            "reminders": "3d, 1d",
            "questions": (
                "Do you agree with the plan?\n"
                "Which option? | Grow training places | Retain staff\n"
                "[multi] What would help? | Money | Time | Data\n"
                "[text] Anything else?"
            ),
        },
    )
    assert good.json is not None and good.json["response_action"] == "update"
    assert "/consult launch workforce-plan" in render_blocks_as_text(good.json["view"]["blocks"])
    view = await get_consultation(harness.services.db, "workforce-plan")
    assert view.consultation.anonymous is True
    assert view.consultation.networks == ["ics-network", "pcn-network"]
    assert [q.kind for q in view.questions] == [
        "stance",
        "single_choice",
        "multi_choice",
        "free_text",
    ]
    assert view.consultation.deadline.isoformat().startswith("2031-03-01T12:00")


async def test_members_cannot_open_the_form(harness: Harness) -> None:
    assert harness.driver is not None and harness.slack is not None
    await harness.driver.slash_command(MEMBER, "new")
    assert "Only policy staff" in (harness.slack.ephemerals(MEMBER)[-1].text or "")
    assert not harness.slack.views_opened(MEMBER)
