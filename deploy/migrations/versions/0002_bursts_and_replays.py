"""burst digests and replayed Slack requests

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("resource_name", sa.String(length=1024), nullable=False),
        sa.Column("resource_label", sa.String(length=256), nullable=False),
        sa.Column("category", sa.String(length=256), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rendered_version", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.create_index("ix_digests_dirty", ["version", "rendered_version"], unique=False)

    op.create_table(
        "slack_requests_seen",
        sa.Column("signature", sa.String(length=80), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("signature"),
    )
    with op.batch_alter_table("slack_requests_seen", schema=None) as batch_op:
        batch_op.create_index("ix_slack_requests_seen_seen_at", ["seen_at"], unique=False)

    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("listed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(
            "ix_findings_burst", ["resource_name", "category", "created_at"], unique=False
        )
        batch_op.create_index("ix_findings_digest_id", ["digest_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_digest_id")
        batch_op.drop_index("ix_findings_burst")
        batch_op.drop_column("listed")
        batch_op.drop_column("digest_id")
    with op.batch_alter_table("slack_requests_seen", schema=None) as batch_op:
        batch_op.drop_index("ix_slack_requests_seen_seen_at")
    op.drop_table("slack_requests_seen")
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.drop_index("ix_digests_dirty")
    op.drop_table("digests")
