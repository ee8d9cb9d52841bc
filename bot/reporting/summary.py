"""Summaries of the answers so far for regional leads and staff (`/consult summary`)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from sqlmodel import select

from bot.consultations.catalogue import ConsultationError, get_consultation, target_networks
from bot.core.audit import record, record_now
from bot.core.permissions import Actor, authorize, regions_in_scope
from bot.core.services import Services
from bot.delivery.outbox import Outgoing, enqueue, enqueue_many
from bot.reporting.aggregation import Aggregate, aggregate
from bot.reporting.blocks import summary_blocks
from bot.reporting.charts import choice_chart, stance_chart
from bot.reporting.codebook import add_themes
from bot.reporting.llm_coding import LlmEndpoint
from bot.reporting.scope import Filters
from bot.slack.membership import network_people_counts
from storage.models import Network, OutboxMessage, Region


class SummaryRefused(Exception):
    """The actor may not see this summary; the message says why."""


@dataclass
class Summary:
    result: Aggregate
    scope_label: str
    blocks: list[dict[str, Any]]
    chart_png: bytes | None


async def network_member_counts(services: Services, networks: list[Network]) -> dict[str, int]:
    """People in each network channel who can answer (bot.slack.membership.network_people_counts)."""
    return await network_people_counts(
        services.members, services.people, {n.id: n.channel_id for n in networks}
    )


async def build_summary(
    services: Services,
    actor: Actor,
    consultation_id: str,
    region: str | None,
    *,
    audited: bool = True,
) -> Summary:
    """The summary `actor` may see (their regions, or `region` within them). Audited (who,
    which regions) unless the caller audits its own use of it (a share)."""
    decision = authorize(actor, "summary", region=region)
    if not decision:
        raise SummaryRefused(decision.reason)
    view = await get_consultation(services.db, consultation_id)
    scope = regions_in_scope(actor, region)
    async with services.db.session() as session:
        region_names = {r.id: r.name for r in (await session.exec(select(Region))).all()}
    if region is not None and region not in region_names:
        raise ConsultationError(
            f"There is no region '{region}'. Regions: {', '.join(sorted(region_names))}."
        )
    networks = await target_networks(services.db, view.consultation)
    result = await aggregate(
        services.db,
        consultation_id,
        filters=Filters(regions=scope),
        network_members=await network_member_counts(services, networks),
        min_group=services.settings.min_group,
    )
    await add_themes(
        services.db,
        result,
        consultation=view,
        max_themes=3,
        llm=LlmEndpoint.from_settings(services.settings),
    )
    # None: every region; an empty set: none of them (the lead sees nobody's answers).
    if audited:
        await record_now(
            services.db,
            actor.user_id,
            "summary",
            consultation_id,
            region=region,
            regions=sorted(scope) if scope is not None else None,
        )
    if scope is None:
        scope_label = "All regions"
    else:
        scope_label = ", ".join(region_names.get(r, r) for r in sorted(scope)) or "No region"
    blocks = summary_blocks(
        result,
        scope_label=scope_label,
        network_names={n.id: n.name for n in networks},
        share_value={"c": consultation_id, "r": region},
    )
    return Summary(result, scope_label, blocks, summary_chart(result))


def summary_chart(result: Aggregate) -> bytes | None:
    """One chart for the first question with answers: what a lead most often wants to show."""
    if result.withheld:
        return None
    for question in result.questions:
        if question.answered == 0:
            continue
        if question.kind == "stance":
            return stance_chart(question.text, [("All respondents", question.counts)])
        if question.kind in ("single_choice", "multi_choice"):
            return choice_chart(
                question.text,
                [(o.label, question.percentages.get(o.value, 0.0)) for o in question.options],
            )
    return None


async def upload_chart(
    services: Services, user_id: str, consultation_id: str, png: bytes, *, request_id: str
) -> None:
    """The chart goes to the requester's DM through the outbox (files upload v2), once per
    request (`request_id`, e.g. the command's trigger id: the same in Slack's retries)."""
    async with services.db.session() as session:
        await enqueue(
            session,
            dedup_key=f"summary-chart:{consultation_id}:{user_id}:{request_id}",
            method="files.upload_v2",
            channel=user_id,
            payload={
                "channel": user_id,
                "filename": f"{consultation_id}-summary.png",
                "title": "Summary chart",
                "content_b64": base64.b64encode(png).decode(),
            },
            consultation_id=consultation_id,
        )
    services.outbox.wake()


async def share_summary(
    services: Services,
    actor: Actor,
    consultation_id: str,
    region: str | None,
    channel: str,
    *,
    click_id: str,
) -> bool:
    """Post the summary for everyone in `channel` (through the outbox), once per `click_id`
    (the summary message the Share button is on): Slack's retries and a double click share it
    once. False when it was shared already."""
    dedup_key = f"summary-share:{consultation_id}:{channel}:{click_id}"
    async with services.db.read_session() as session:
        shared = (
            await session.exec(select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key))
        ).first()
    if shared is not None:
        return False
    summary = await build_summary(services, actor, consultation_id, region, audited=False)
    blocks = [b for b in summary.blocks if b.get("block_id") != "summary_actions"]
    async with services.db.session() as session:
        # Written by this call or not at all: deliveries that passed the check together
        # still share it once.
        written = await enqueue_many(
            session,
            [
                Outgoing(
                    dedup_key=dedup_key,
                    method="chat.postMessage",
                    channel=channel,
                    payload={
                        "channel": channel,
                        "text": f"Summary of {summary.result.consultation.title}",
                        "blocks": blocks,
                    },
                    consultation_id=consultation_id,
                )
            ],
        )
        if written == 1:
            record(
                session,
                actor.user_id,
                "summary.share",
                consultation_id,
                region=region,
                channel=channel,
            )
    services.outbox.wake()
    return written == 1
