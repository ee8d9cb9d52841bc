"""Loading the directory file into the database, and reading it back."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import delete, select

from bot.consultations.files import DirectoryFile
from bot.core.audit import record
from storage.db import Database
from storage.models import MemberProfile, Network, Region, RegionLead, StaffMember


@dataclass(frozen=True)
class DirectoryLoadResult:
    networks: int
    regions: int
    leads: int
    staff: int
    members: int


async def load_directory(
    db: Database, directory: DirectoryFile, *, actor: str | None = None
) -> DirectoryLoadResult:
    """Replace networks, regions, leads and staff with the file's; upsert member profiles.

    Profiles members gave us themselves are kept unless the file names that member.
    """
    async with db.session() as session:
        await session.exec(delete(RegionLead))  # type: ignore[call-overload]
        await session.exec(delete(StaffMember))  # type: ignore[call-overload]
        existing_regions = {r.id: r for r in (await session.exec(select(Region))).all()}
        for spec in directory.regions:
            region = existing_regions.pop(spec.id, None) or Region(id=spec.id, name=spec.name)
            region.name = spec.name
            session.add(region)
        for stale in existing_regions.values():
            await session.delete(stale)
        existing_networks = {n.id: n for n in (await session.exec(select(Network))).all()}
        for spec in directory.networks:
            network = existing_networks.pop(spec.id, None) or Network(
                id=spec.id, name=spec.name, channel_id=spec.channel
            )
            network.name, network.channel_id = spec.name, spec.channel
            session.add(network)
        for stale in existing_networks.values():
            await session.delete(stale)
        await session.flush()
        leads = {(r.id, lead) for r in directory.regions for lead in r.leads}
        session.add_all(RegionLead(region_id=rid, user_id=uid) for rid, uid in sorted(leads))
        session.add_all(StaffMember(user_id=uid) for uid in sorted(set(directory.staff)))
        for user_id, spec in directory.members.items():
            profile = await session.get(MemberProfile, user_id) or MemberProfile(user_id=user_id)
            profile.region_id, profile.organisation = spec.region, spec.organisation
            profile.source = "directory"
            session.add(profile)
        result = DirectoryLoadResult(
            networks=len(directory.networks),
            regions=len(directory.regions),
            leads=len(leads),
            staff=len(set(directory.staff)),
            members=len(directory.members),
        )
        record(session, actor, "directory.load", None, **result.__dict__)
    return result


async def list_networks(db: Database) -> list[Network]:
    async with db.session() as session:
        return list((await session.exec(select(Network).order_by(Network.name))).all())


async def list_regions(db: Database) -> list[Region]:
    async with db.session() as session:
        return list((await session.exec(select(Region).order_by(Region.name))).all())


async def member_profile(db: Database, user_id: str) -> MemberProfile | None:
    async with db.session() as session:
        return await session.get(MemberProfile, user_id)
