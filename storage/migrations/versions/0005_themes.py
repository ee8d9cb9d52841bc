"""theme codebooks: themes per question and the coding of every comment

Revision ID: 0005_themes
Revises: 0004_engagement
Create Date: 2026-11-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_themes"
down_revision: str | None = "0004_engagement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "theme_codebooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("question_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column(
            "answers_fingerprint", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False
        ),
        sa.Column("engine", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.Column("built_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["consultation_id"], ["consultations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("consultation_id", "question_key"),
    )
    op.create_index(
        op.f("ix_theme_codebooks_consultation_id"),
        "theme_codebooks",
        ["consultation_id"],
        unique=False,
    )
    op.create_table(
        "codebook_themes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("codebook_id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("engine_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("merged_into", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("quotes", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["codebook_id"], ["theme_codebooks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("codebook_id", "theme_id"),
    )
    op.create_index(
        op.f("ix_codebook_themes_codebook_id"), "codebook_themes", ["codebook_id"], unique=False
    )
    op.create_table(
        "theme_codings",
        sa.Column("codebook_id", sa.Integer(), nullable=False),
        sa.Column("respondent_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("theme_id", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["codebook_id"], ["theme_codebooks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("codebook_id", "respondent_key", "theme_id"),
    )


def downgrade() -> None:
    op.drop_table("theme_codings")
    op.drop_index(op.f("ix_codebook_themes_codebook_id"), table_name="codebook_themes")
    op.drop_table("codebook_themes")
    op.drop_index(op.f("ix_theme_codebooks_consultation_id"), table_name="theme_codebooks")
    op.drop_table("theme_codebooks")
