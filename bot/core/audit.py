"""The audit log: who launched, closed, extended, exported, summarised, shared or edited themes,
and when. Every room that lets someone see or change consultation data writes here (in the
transaction of the change, where there is one); `consultbot audit` reads it back."""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database
from storage.models import AuditEntry


def cli_actor() -> str:
    """Who ran a `consultbot` command: the operating-system account, as `cli:<name>`."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        name = "unknown"
    return f"cli:{name}"[:40]


def record(
    session: AsyncSession,
    actor: str | None,
    action: str,
    consultation_id: str | None = None,
    **detail: Any,
) -> None:
    """Add an audit entry in the caller's transaction."""
    session.add(
        AuditEntry(actor=actor, action=action, consultation_id=consultation_id, detail=detail)
    )


async def record_now(
    db: Database,
    actor: str | None,
    action: str,
    consultation_id: str | None = None,
    **detail: Any,
) -> None:
    """Add an audit entry in a transaction of its own (a read such as an export)."""
    async with db.session() as session:
        record(session, actor, action, consultation_id, **detail)


async def read_audit(
    db: Database, consultation_id: str | None = None, since: datetime | None = None
) -> Sequence[AuditEntry]:
    """Entries oldest first, of one consultation (or all) and from `since` (or the start)."""
    query = select(AuditEntry).order_by(col(AuditEntry.at), col(AuditEntry.id))
    if consultation_id is not None:
        query = query.where(AuditEntry.consultation_id == consultation_id)
    if since is not None:
        query = query.where(col(AuditEntry.at) >= since)
    async with db.read_session() as session:
        return (await session.exec(query)).all()
