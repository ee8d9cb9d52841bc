"""security: the anonymity key leaves the database; nudges remember the regions they reached

Revision ID: 0003_security
Revises: 0002
Create Date: 2026-11-24 09:00:00

Upgrade note. Before this revision a consultbot started without CONSULTBOT_ANON_SECRET generated
a key and kept it in the table `app_secrets`, beside the pseudonyms it protects. This revision
deletes that table. If it holds a key, the upgrade stops until CONSULTBOT_ANON_SECRET is set to
the same key (`consultbot db stored-key` prints it), so that members who answered before can
still edit their answers and are not reminded again; the key then lives only in the
environment. See docs/security.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

from storage.migrate import LEGACY_KEY_NAME, LEGACY_KEY_TABLE, UpgradeBlocked

revision: str = "0003_security"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _move_key_out() -> None:
    connection = op.get_bind()
    if not sa.inspect(connection).has_table(LEGACY_KEY_TABLE):
        return
    row = connection.execute(
        sa.text(f"SELECT value FROM {LEGACY_KEY_TABLE} WHERE name = :name"),
        {"name": LEGACY_KEY_NAME},
    ).first()
    configured = context.config.attributes.get("anon_secret") or ""
    if row is not None and str(row[0]) != configured:
        raise UpgradeBlocked(
            "this database keeps the anonymity key beside the answers; run "
            "`consultbot db stored-key`, set CONSULTBOT_ANON_SECRET to the key it prints (in the "
            "environment or .env, with a copy kept somewhere safe), then upgrade again: the "
            "upgrade then deletes the key from the database"
        )
    op.drop_table(LEGACY_KEY_TABLE)


def upgrade() -> None:
    _move_key_out()
    with op.batch_alter_table("manual_reminders", schema=None) as batch_op:
        # The regions a lead's nudge reached (NULL: everyone, as staff and older rows).
        batch_op.add_column(sa.Column("regions", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("manual_reminders", schema=None) as batch_op:
        batch_op.drop_column("regions")
    # The table comes back empty: a key is never written back into the database.
    op.create_table(
        LEGACY_KEY_TABLE,
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
