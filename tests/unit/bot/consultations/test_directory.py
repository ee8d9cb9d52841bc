"""Loading the directory file (docs/contracts.md, Directory file) into the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import select

from bot.consultations.directory import list_networks, list_regions, load_directory, member_profile
from bot.consultations.files import parse_directory
from storage.db import Database
from storage.models import MemberProfile, RegionLead, StaffMember

FIRST = """\
staff: [U01STAFF, U02STAFF]
regions:
  - {id: north-west, name: North West, leads: [U01LEADNW]}
  - {id: london, name: London, leads: [U01LEADLDN]}
networks:
  - {id: ics-network, name: ICS Network, channel: C01ICSNET}
  - {id: mental-health-network, name: Mental Health Network, channel: C01MHNET}
members:
  U01ABC: {region: north-west, organisation: Example ICS}
  U01DEF: {region: london}
"""

# mental-health-network removed, the North West lead changed, the ICS channel renamed.
SECOND = """\
staff: [U01STAFF]
regions:
  - {id: north-west, name: North West, leads: [U02LEADNW]}
  - {id: london, name: London, leads: [U01LEADLDN]}
networks:
  - {id: ics-network, name: ICS Network (England), channel: C02ICSNET}
members:
  U01ABC: {region: london, organisation: Example ICS}
"""


async def _leads(db: Database) -> set[tuple[str, str]]:
    async with db.session() as session:
        return {(r.region_id, r.user_id) for r in (await session.exec(select(RegionLead))).all()}


async def _staff(db: Database) -> set[str]:
    async with db.session() as session:
        return {s.user_id for s in (await session.exec(select(StaffMember))).all()}


async def test_load_creates_networks_regions_leads_staff_and_members(db: Database) -> None:
    result = await load_directory(db, parse_directory(FIRST))
    assert (result.networks, result.regions, result.leads, result.staff, result.members) == (
        2,
        2,
        2,
        2,
        2,
    )
    networks = await list_networks(db)
    assert [(n.id, n.name, n.channel_id) for n in networks] == [
        ("ics-network", "ICS Network", "C01ICSNET"),
        ("mental-health-network", "Mental Health Network", "C01MHNET"),
    ]
    assert [(r.id, r.name) for r in await list_regions(db)] == [
        ("london", "London"),
        ("north-west", "North West"),
    ]
    assert await _leads(db) == {("north-west", "U01LEADNW"), ("london", "U01LEADLDN")}
    assert await _staff(db) == {"U01STAFF", "U02STAFF"}
    profile = await member_profile(db, "U01ABC")
    assert profile is not None
    assert (profile.region_id, profile.organisation, profile.source) == (
        "north-west",
        "Example ICS",
        "directory",
    )
    other = await member_profile(db, "U01DEF")
    assert other is not None and other.organisation is None
    assert await member_profile(db, "U09NOBODY") is None


async def test_loading_again_replaces_networks_leads_and_staff(db: Database) -> None:
    await load_directory(db, parse_directory(FIRST))
    await load_directory(db, parse_directory(SECOND))
    networks = await list_networks(db)
    assert [(n.id, n.name, n.channel_id) for n in networks] == [
        ("ics-network", "ICS Network (England)", "C02ICSNET")
    ]
    assert await _leads(db) == {("north-west", "U02LEADNW"), ("london", "U01LEADLDN")}
    assert await _staff(db) == {"U01STAFF"}
    profile = await member_profile(db, "U01ABC")
    assert profile is not None and profile.region_id == "london"


async def test_loading_the_same_file_twice_is_harmless(db: Database) -> None:
    await load_directory(db, parse_directory(FIRST))
    await load_directory(db, parse_directory(FIRST))
    assert len(await list_networks(db)) == 2
    assert await _leads(db) == {("north-west", "U01LEADNW"), ("london", "U01LEADLDN")}


async def test_a_removed_region_goes(db: Database) -> None:
    await load_directory(db, parse_directory(FIRST))
    await load_directory(
        db,
        parse_directory(
            "regions: [{id: london, name: London}]\n"
            "networks: [{id: ics-network, name: ICS Network, channel: C01ICSNET}]\n"
        ),
    )
    assert [r.id for r in await list_regions(db)] == ["london"]
    assert await _leads(db) == set()


async def test_a_profile_the_member_gave_survives_a_reload(db: Database) -> None:
    await load_directory(db, parse_directory(FIRST))
    async with db.session() as session:
        session.add(
            MemberProfile(
                user_id="U09SELF", region_id="london", organisation="Own Trust", source="self"
            )
        )
    await load_directory(db, parse_directory(SECOND))
    profile = await member_profile(db, "U09SELF")
    assert profile is not None
    assert (profile.region_id, profile.organisation, profile.source) == (
        "london",
        "Own Trust",
        "self",
    )


async def test_the_file_wins_for_a_member_it_names(db: Database) -> None:
    async with db.session() as session:
        session.add(MemberProfile(user_id="U01ABC", region_id="london", source="self"))
    await load_directory(db, parse_directory(FIRST))
    profile = await member_profile(db, "U01ABC")
    assert profile is not None
    assert (profile.region_id, profile.source) == ("north-west", "directory")
