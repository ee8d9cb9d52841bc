"""Keyed pseudonyms for anonymous consultations: stable per person, unlinkable without the key."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy.exc import IntegrityError

from bot.core.settings import Settings
from storage.db import Database
from storage.models import AppSecret

SECRET_NAME = "anon_secret"


async def ensure_anon_secret(db: Database, settings: Settings) -> str:
    """CONSULTBOT_ANON_SECRET if set, else the key generated and stored on first run."""
    if settings.anon_secret is not None and settings.anon_secret.get_secret_value():
        return settings.anon_secret.get_secret_value()
    async with db.session() as session:
        stored = await session.get(AppSecret, SECRET_NAME)
        if stored is not None:
            return stored.value
    try:
        async with db.session() as session:
            session.add(AppSecret(name=SECRET_NAME, value=secrets.token_hex(32)))
    except IntegrityError:
        pass  # another replica generated it first; use theirs
    async with db.session() as session:
        stored = await session.get(AppSecret, SECRET_NAME)
        assert stored is not None
        return stored.value


def pseudonym(secret: str, consultation_id: str, user_id: str) -> str:
    """Per consultation, so answers cannot be linked across consultations either."""
    digest = hmac.new(
        secret.encode(), f"{consultation_id}:{user_id}".encode(), hashlib.sha256
    ).hexdigest()
    return f"anon-{digest[:24]}"
