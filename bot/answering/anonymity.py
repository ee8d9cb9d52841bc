"""Keyed pseudonyms for anonymous consultations: stable per person, unlinkable without the key.

The key (CONSULTBOT_ANON_SECRET) lives only in the environment, never in the database: whoever
has a dump or a backup and every Slack user id in it still cannot tell who answered what.
"""

from __future__ import annotations

import hashlib
import hmac

from bot.consultations.catalogue import ConsultationError
from bot.core.settings import ANON_SECRET_MISSING


class MissingAnonKey(ConsultationError):
    """An anonymous consultation was asked for a pseudonym, and no key is set."""

    def __init__(self) -> None:
        super().__init__(ANON_SECRET_MISSING + ".")


def pseudonym(secret: str, consultation_id: str, user_id: str) -> str:
    """Per consultation, so answers cannot be linked across consultations either."""
    if not secret:
        # An empty key would give pseudonyms anyone can recompute.
        raise MissingAnonKey()
    digest = hmac.new(
        secret.encode(), f"{consultation_id}:{user_id}".encode(), hashlib.sha256
    ).hexdigest()
    return f"anon-{digest[:24]}"
