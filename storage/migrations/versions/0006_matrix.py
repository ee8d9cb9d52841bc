"""matrix questions (rows, and the option chosen per row) and options' prose phrases

Revision ID: 0006_matrix
Revises: 0005_themes
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_matrix"
down_revision: str | None = "0005_themes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("questions") as batch:
        batch.add_column(sa.Column("rows", sa.JSON(), nullable=True))
    with op.batch_alter_table("question_options") as batch:
        batch.add_column(
            sa.Column("phrase", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )
    with op.batch_alter_table("answer_selections") as batch:
        batch.add_column(
            sa.Column("choice", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("answer_selections") as batch:
        batch.drop_column("choice")
    with op.batch_alter_table("question_options") as batch:
        batch.drop_column("phrase")
    with op.batch_alter_table("questions") as batch:
        batch.drop_column("rows")
