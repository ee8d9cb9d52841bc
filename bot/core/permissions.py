"""Who may do what (docs/security.md). Every role decision in consultbot goes through here: the
table of actions and roles, and the few questions asked of an actor (which regions they see,
whom a nudge of theirs reaches). Handlers resolve the actor once per request and hand it on."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database
from storage.models import RegionLead, StaffMember


class Role(StrEnum):
    STAFF = "staff"
    LEAD = "lead"
    MEMBER = "member"


@dataclass(frozen=True)
class Actor:
    user_id: str
    is_staff: bool = False
    lead_regions: frozenset[str] = field(default_factory=frozenset)

    @property
    def role(self) -> Role:
        if self.is_staff:
            return Role.STAFF
        if self.lead_regions:
            return Role.LEAD
        return Role.MEMBER


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)

# The slash-command actions and the roles allowed to run them (docs/contracts.md, Slack surface).
COMMAND_ROLES: dict[str, frozenset[Role]] = {
    "help": frozenset(Role),
    "list": frozenset(Role),
    "new": frozenset({Role.STAFF}),
    "launch": frozenset({Role.STAFF}),
    "status": frozenset({Role.STAFF, Role.LEAD}),
    "remind": frozenset({Role.STAFF, Role.LEAD}),
    "summary": frozenset({Role.STAFF, Role.LEAD}),
    "export": frozenset({Role.STAFF}),
    "close": frozenset({Role.STAFF}),
    "extend": frozenset({Role.STAFF}),
    # Anyone consulted; a member must also be in one of the consultation's networks.
    "ask": frozenset(Role),
    "themes": frozenset({Role.STAFF}),
}
# Decisions that are not slash commands but need the same table (what a listing or the App
# Home shows).
ACTION_ROLES: dict[str, frozenset[Role]] = {
    **COMMAND_ROLES,
    # Drafts and closed consultations in `/consult list`, not only those open for answers.
    "list_all": frozenset({Role.STAFF, Role.LEAD}),
    # Respondent counts and every open consultation on the App Home, with Launch and Close.
    "view_counts": frozenset({Role.STAFF}),
    "answer_question": frozenset({Role.STAFF}),
    "add_to_faq": frozenset({Role.STAFF}),
    # Ask about any consultation without sitting in one of its networks' channels.
    "ask_any": frozenset({Role.STAFF, Role.LEAD}),
}

_ROLE_NAMES = {Role.STAFF: "policy staff", Role.LEAD: "regional leads", Role.MEMBER: "members"}


async def resolve_actor(db: Database, user_id: str) -> Actor:
    async with db.session() as session:
        return await resolve_actor_in(session, user_id)


async def resolve_actor_in(session: AsyncSession, user_id: str) -> Actor:
    """`resolve_actor` inside the caller's transaction."""
    staff = await session.get(StaffMember, user_id)
    regions = (
        await session.exec(select(RegionLead.region_id).where(RegionLead.user_id == user_id))
    ).all()
    return Actor(user_id=user_id, is_staff=staff is not None, lead_regions=frozenset(regions))


def authorize(actor: Actor, action: str, *, region: str | None = None) -> Decision:
    """May `actor` do `action` (optionally scoped to `region`)? Refusals carry a one-line reason."""
    roles = ACTION_ROLES.get(action)
    if roles is None:
        return Decision(False, f"`{action}` is not something consultbot can do.")
    if actor.role not in roles:
        who = " and ".join(_ROLE_NAMES[r] for r in Role if r in roles)
        return Decision(False, f"Only {who} can use `{action}`.")
    if region is not None and actor.role is Role.LEAD and region not in actor.lead_regions:
        return Decision(False, f"You lead {', '.join(sorted(actor.lead_regions))}, not `{region}`.")
    return ALLOW


def regions_in_scope(actor: Actor, requested: str | None) -> frozenset[str] | None:
    """The regions a lead may see: the requested one or all of theirs; None means no limit."""
    if actor.role is Role.STAFF:
        return None if requested is None else frozenset({requested})
    if requested is not None:
        return frozenset({requested}) & actor.lead_regions
    return actor.lead_regions


def allowed_actions(actor: Actor) -> frozenset[str]:
    """Every action `actor` may take (what `/consult help` lists for them)."""
    return frozenset(action for action in ACTION_ROLES if authorize(actor, action))


def own_regions(actor: Actor) -> frozenset[str]:
    """The regions whose own respondent count `/consult status` adds for this actor: a lead's
    regions; none for staff, who see every network's figures already."""
    return actor.lead_regions if actor.role is Role.LEAD else frozenset()


def reminder_scope(actor: Actor) -> frozenset[str] | None:
    """Whose non-responders a nudge (`/consult remind`) may DM: None = everyone (staff);
    a regional lead reaches only members of their own region(s)."""
    return None if actor.role is Role.STAFF else actor.lead_regions


def scopes_overlap(a: frozenset[str] | None, b: frozenset[str] | None) -> bool:
    """Do two nudge audiences share members? (None is everyone.)"""
    return a is None or b is None or bool(a & b)
