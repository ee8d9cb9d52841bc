"""Who may do what (docs/contracts.md, Slack surface): staff everything; leads list/status/summary/remind for their own
regions; members list and help. A refusal carries a one-line reason."""

from __future__ import annotations

import pytest

from bot.consultations.directory import load_directory
from bot.consultations.files import parse_directory
from bot.core.permissions import (
    COMMAND_ROLES,
    Actor,
    Role,
    authorize,
    regions_in_scope,
    resolve_actor,
)
from storage.db import Database

STAFF = Actor("U01STAFF", is_staff=True)
LEAD = Actor("U01LEADNW", lead_regions=frozenset({"north-west"}))
TWO_REGION_LEAD = Actor("U01LEADX", lead_regions=frozenset({"north-west", "london"}))
MEMBER = Actor("U01MEMBER")
ACTORS = {Role.STAFF: STAFF, Role.LEAD: LEAD, Role.MEMBER: MEMBER}

# The table of docs/contracts.md (Slack surface), written out so a change to COMMAND_ROLES is a visible decision.
EXPECTED: dict[str, set[Role]] = {
    "help": {Role.STAFF, Role.LEAD, Role.MEMBER},
    "list": {Role.STAFF, Role.LEAD, Role.MEMBER},
    "new": {Role.STAFF},
    "launch": {Role.STAFF},
    "status": {Role.STAFF, Role.LEAD},
    "remind": {Role.STAFF, Role.LEAD},
    "summary": {Role.STAFF, Role.LEAD},
    "export": {Role.STAFF},
    "close": {Role.STAFF},
    "extend": {Role.STAFF},
    "ask": set(Role),
    "themes": {Role.STAFF},
}


def test_every_slash_command_of_the_design_has_a_rule() -> None:
    assert set(COMMAND_ROLES) == set(EXPECTED)


@pytest.mark.parametrize(
    ("command", "role"),
    [(command, role) for command in EXPECTED for role in Role],
)
def test_command_by_role(command: str, role: Role) -> None:
    decision = authorize(ACTORS[role], command)
    assert bool(decision) is (role in EXPECTED[command])
    if decision:
        assert decision.reason == ""
    else:
        assert f"`{command}`" in decision.reason
        assert "\n" not in decision.reason
        assert decision.reason.startswith("Only ")


def test_refusal_says_who_may() -> None:
    assert authorize(MEMBER, "launch").reason == "Only policy staff can use `launch`."
    assert authorize(MEMBER, "summary").reason == (
        "Only policy staff and regional leads can use `summary`."
    )


def test_unknown_action_is_refused() -> None:
    decision = authorize(STAFF, "drop-tables")
    assert not decision
    assert "drop-tables" in decision.reason


def test_roles() -> None:
    assert STAFF.role is Role.STAFF
    assert LEAD.role is Role.LEAD
    assert MEMBER.role is Role.MEMBER
    # A member of staff who also leads a region has the wider role.
    assert Actor("U1", is_staff=True, lead_regions=frozenset({"london"})).role is Role.STAFF


@pytest.mark.parametrize("command", ["status", "summary", "remind"])
def test_lead_may_act_for_their_own_region(command: str) -> None:
    assert authorize(LEAD, command, region="north-west")


@pytest.mark.parametrize("command", ["status", "summary", "remind"])
def test_lead_is_refused_another_region_with_a_reason_naming_theirs(command: str) -> None:
    decision = authorize(LEAD, command, region="london")
    assert not decision
    assert "north-west" in decision.reason
    assert "london" in decision.reason


def test_staff_may_act_for_any_region() -> None:
    assert authorize(STAFF, "summary", region="london")


def test_regions_in_scope() -> None:
    assert regions_in_scope(STAFF, None) is None  # no limit
    assert regions_in_scope(STAFF, "london") == {"london"}
    assert regions_in_scope(LEAD, None) == {"north-west"}
    assert regions_in_scope(LEAD, "north-west") == {"north-west"}
    assert regions_in_scope(LEAD, "london") == frozenset()
    assert regions_in_scope(TWO_REGION_LEAD, None) == {"north-west", "london"}
    assert regions_in_scope(TWO_REGION_LEAD, "london") == {"london"}
    assert regions_in_scope(MEMBER, None) == frozenset()


DIRECTORY = """\
staff: [U01STAFF]
regions:
  - {id: north-west, name: North West, leads: [U01LEADNW, U01LEADX]}
  - {id: london, name: London, leads: [U01LEADX]}
networks:
  - {id: ics-network, name: ICS Network, channel: C01ICSNET}
"""


async def test_resolve_actor_from_the_directory(db: Database) -> None:
    await load_directory(db, parse_directory(DIRECTORY))
    staff = await resolve_actor(db, "U01STAFF")
    lead = await resolve_actor(db, "U01LEADX")
    member = await resolve_actor(db, "U01NOBODY")
    assert staff.role is Role.STAFF
    assert lead.role is Role.LEAD
    assert lead.lead_regions == {"north-west", "london"}
    assert member.role is Role.MEMBER
    assert not authorize(member, "status")
    assert authorize(lead, "summary", region="london")


# Every rule of the gate, per role. An outsider (in no network, not in the directory) resolves to
# an actor with no powers: they may ask for help and the list of open consultations, no more.
OUTSIDER = Actor("U0OUTSIDER")
EVERY_ROLE = {"staff": STAFF, "lead": LEAD, "member": MEMBER, "outsider": OUTSIDER}
ACTION_EXPECTED: dict[str, set[str]] = {
    **{
        action: {r.value for r in roles} | ({"outsider"} if Role.MEMBER in roles else set())
        for action, roles in EXPECTED.items()
    },
    "list_all": {"staff", "lead"},
    "view_counts": {"staff"},
    # Members' questions passed to staff: only staff answer them and grow the FAQ.
    "answer_question": {"staff"},
    "add_to_faq": {"staff"},
    "ask_any": {"staff", "lead"},
}


@pytest.mark.parametrize("who", sorted(EVERY_ROLE))
def test_every_rule_per_role(who: str) -> None:
    from bot.core.permissions import (
        ACTION_ROLES,
        allowed_actions,
        own_regions,
        reminder_scope,
    )

    actor = EVERY_ROLE[who]
    assert set(ACTION_ROLES) == set(ACTION_EXPECTED)
    assert allowed_actions(actor) == {a for a, roles in ACTION_EXPECTED.items() if who in roles}
    assert own_regions(actor) == (frozenset({"north-west"}) if who == "lead" else frozenset())
    assert reminder_scope(actor) == (
        None if who == "staff" else frozenset({"north-west"}) if who == "lead" else frozenset()
    )
    assert regions_in_scope(actor, None) == (
        None if who == "staff" else frozenset({"north-west"}) if who == "lead" else frozenset()
    )
    # A lead asking for another region is refused, saying which they lead.
    summary = authorize(actor, "summary", region="london")
    assert bool(summary) is (who == "staff")


async def test_an_outsider_resolves_to_no_powers(db: Database) -> None:
    await load_directory(
        db,
        parse_directory(
            "staff: [U01STAFF]\nregions: [{id: london, name: London, leads: [U01LEAD]}]\n"
            "networks: [{id: ics, name: ICS, channel: C01ICS}]\n"
        ),
    )
    outsider = await resolve_actor(db, "U0OUTSIDER")
    assert outsider.role is Role.MEMBER and not outsider.lead_regions
    assert not authorize(outsider, "summary") and not authorize(outsider, "view_counts")
