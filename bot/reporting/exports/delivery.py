"""Sending an export to the requester's DM (`/consult export ID [FORMAT]`), via the outbox."""

from __future__ import annotations

import asyncio
import base64
import tempfile
from pathlib import Path

from bot.consultations.catalogue import get_consultation, target_networks
from bot.core.services import Services
from bot.delivery.outbox import enqueue
from bot.reporting.exports import write_export
from bot.reporting.llm_coding import LlmEndpoint
from storage.models import utcnow

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


async def send_export_to_dm(
    services: Services, user_id: str, consultation_id: str, fmt: str
) -> list[str]:
    """Write the export and queue its upload to `user_id`'s DM; the file names sent."""
    from bot.reporting.summary import network_member_counts

    view = await get_consultation(services.db, consultation_id)
    networks = await target_networks(services.db, view.consultation)
    members = await network_member_counts(services, networks)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    with tempfile.TemporaryDirectory() as folder:
        name = "draft-response" if fmt in ("md", "docx") else "responses"
        if fmt == "json":
            name = "aggregate"
        target = Path(folder) / f"{consultation_id}-{name}.{fmt}"
        written = await write_export(
            services.db,
            consultation_id,
            fmt,
            target,
            network_members=members,
            organisation=services.settings.organisation,
            actor=user_id,
            min_group=services.settings.min_group,
            llm=LlmEndpoint.from_settings(services.settings),
        )
        files = [p for p in written if p.suffix == f".{fmt}"]
        contents = [(p.name, await asyncio.to_thread(p.read_bytes)) for p in files]
    sent = []
    async with services.db.session() as session:
        for filename, content in contents:
            if len(content) > MAX_UPLOAD_BYTES:
                continue
            await enqueue(
                session,
                dedup_key=f"export:{consultation_id}:{user_id}:{filename}:{stamp}",
                method="files.upload_v2",
                channel=user_id,
                payload={
                    "channel": user_id,
                    "filename": filename,
                    "title": f"{view.consultation.title} ({fmt})",
                    "initial_comment": f"Your {fmt} export of {view.consultation.title}.",
                    "content_b64": base64.b64encode(content).decode(),
                },
                consultation_id=consultation_id,
            )
            sent.append(filename)
    services.outbox.wake()
    return sent
