"""Building and publishing a user's App Home."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from sqlmodel import col, select

from bot.answering.anonymity import pseudonym
from bot.answering.blocks.home import HomeItem, home_view
from bot.consultations.catalogue import list_consultations, target_networks
from bot.core.permissions import Actor, authorize
from bot.core.services import Services
from storage.models import Response

log = logging.getLogger(__name__)


async def publish_home(services: Services, actor: Actor) -> None:
    """`actor` is resolved once by the listener (bot.core.permissions.resolve_actor)."""
    user_id = actor.user_id
    sees_counts = bool(authorize(actor, "view_counts"))
    manages = bool(authorize(actor, "launch"))
    summaries = await list_consultations(services.db, statuses=("open", "draft"))
    open_items = [s for s in summaries if s.consultation.status == "open"]
    keys = {
        s.consultation.id: (
            pseudonym(services.anon_secret, s.consultation.id, user_id)
            if s.consultation.anonymous
            else user_id
        )
        for s in open_items
        # Without the key an anonymous answer cannot be found (nor given: answering says so).
        if services.anon_secret or not s.consultation.anonymous
    }
    async with services.db.session() as session:
        rows = (
            await session.exec(
                select(
                    Response.consultation_id, Response.respondent_key, Response.updated_at
                ).where(col(Response.respondent_key).in_(list(keys.values()) or [""]))
            )
        ).all()
    answered = {cid: at for cid, key, at in rows if keys.get(cid) == key}
    items = []
    for summary in open_items:
        c = summary.consultation
        networks = await target_networks(services.db, c)
        can_answer = bool(await services.members.networks_of(user_id, networks))
        if not can_answer and not sees_counts:
            continue
        items.append(
            HomeItem(
                consultation=c,
                answered_at=answered.get(c.id),
                respondents=summary.respondents if sees_counts else None,
                can_answer=can_answer,
            )
        )
    drafts = [s.consultation for s in summaries if s.consultation.status == "draft"]
    try:
        await services.client.views_publish(
            user_id=user_id, view=home_view(items, drafts=drafts, staff=manages)
        )
    except SlackApiError as exc:  # e.g. user_not_found for an id Slack does not know
        log.warning("views.publish failed: %s", exc.response.get("error"))
