"""App Home for staff: drafts waiting to launch say when a scheduled one goes out."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.answering.blocks.home import home_view
from storage.models import Consultation


def draft(cid: str, *, launch_at: datetime | None = None) -> Consultation:
    return Consultation(
        id=cid,
        title=f"Consultation {cid}",
        deadline=datetime(2030, 1, 8, 17, 0, tzinfo=UTC),
        timezone="Europe/London",
        status="draft",
        launch_at=launch_at,
    )


def draft_sections(view: dict) -> dict[str, dict]:
    return {
        block["accessory"]["value"]: block
        for block in view["blocks"]
        if block["type"] == "section" and "accessory" in block
    }


def test_a_scheduled_draft_says_when_it_launches_and_a_plain_one_does_not() -> None:
    view = home_view(
        [],
        drafts=[draft("soon", launch_at=datetime(2030, 1, 2, 9, 0, tzinfo=UTC)), draft("later")],
        staff=True,
    )
    sections = draft_sections(view)
    scheduled, plain = sections["soon"], sections["later"]
    assert "Launches Wednesday 2 January 2030, 9am (scheduled)" in scheduled["text"]["text"]
    assert scheduled["accessory"]["text"]["text"] == "Launch now"
    assert "Launches" not in plain["text"]["text"]
    assert plain["accessory"]["text"]["text"] == "Launch"


def test_members_do_not_see_drafts() -> None:
    view = home_view(
        [], drafts=[draft("soon", launch_at=datetime(2030, 1, 2, tzinfo=UTC))], staff=False
    )
    assert draft_sections(view) == {}
