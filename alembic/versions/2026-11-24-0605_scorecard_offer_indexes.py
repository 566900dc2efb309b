"""scorecard offer indexes

Two partial indexes the scorecard recompute needs at scale (measured by
`bench/metrics.py`: 2M offers): offers that expired in a period, and the accepted offer
of a lead (the pool-claim check), each found by an index probe instead of a scan.

Revision ID: 9c5e2d7f4a10
Revises: 3d1f0a7c9b21
Create Date: 2026-11-24 06:05:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c5e2d7f4a10"
down_revision: str | None = "3d1f0a7c9b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_lead_offers_tenant_expired",
        "lead_offers",
        ["tenant_id", "expires_at"],
        postgresql_where=sa.text("status = 'EXPIRED'"),
    )
    op.create_index(
        "ix_lead_offers_tenant_lead_accepted",
        "lead_offers",
        ["tenant_id", "lead_id"],
        postgresql_where=sa.text("status = 'ACCEPTED'"),
    )


def downgrade() -> None:
    op.drop_index("ix_lead_offers_tenant_lead_accepted", table_name="lead_offers")
    op.drop_index("ix_lead_offers_tenant_expired", table_name="lead_offers")
