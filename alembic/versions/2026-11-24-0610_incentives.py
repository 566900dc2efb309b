"""incentives and rebates

Incentive rules per program level (percent of won revenue, bonus per deal, volume rebate
tiers per period, SPIFFs on named products) and the incentives partners earn from them.
The unique keys (rule, opportunity) and (rule, partner, rebate period) make a retried
evaluation count a deal once. Both tables are tenant-owned with row-level security.

Revision ID: 7b42c1e9d8a3
Revises: 9c5e2d7f4a10
Create Date: 2026-11-24 06:01:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from prm.db.rls import enable_tenant_rls

revision: str = "7b42c1e9d8a3"
down_revision: str | None = "9c5e2d7f4a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = ["incentive_rules", "earned_incentives"]


def _timestamps() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "incentive_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("level_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "REVENUE_PERCENT",
                "DEAL_BONUS",
                "VOLUME_REBATE",
                "SPIFF",
                name="incentive_kind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "deal_scope",
            sa.Enum(
                "ANY",
                "PARTNER_SOURCED",
                "REGISTERED",
                name="incentive_deal_scope",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("percent", sa.Numeric(precision=7, scale=4), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column(
            "tiers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "period_kind",
            sa.Enum(
                "MONTH", "QUARTER", "YEAR", name="rebate_period_kind", native_enum=False, length=8
            ),
            nullable=True,
        ),
        sa.Column("product_ids", sa.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispute_days", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        *_timestamps(),
        sa.CheckConstraint(
            "amount IS NULL OR amount > 0", name=op.f("ck_incentive_rules_amount_positive")
        ),
        sa.CheckConstraint(
            "dispute_days >= 0 AND dispute_days <= 365",
            name=op.f("ck_incentive_rules_dispute_days_range"),
        ),
        sa.CheckConstraint(
            "ends_at IS NULL OR starts_at IS NULL OR ends_at > starts_at",
            name=op.f("ck_incentive_rules_window"),
        ),
        sa.CheckConstraint(
            "percent IS NULL OR (percent > 0 AND percent <= 100)",
            name=op.f("ck_incentive_rules_percent"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "level_id"],
            ["program_levels.tenant_id", "program_levels.id"],
            name=op.f("fk_incentive_rules_tenant_id_level_id_program_levels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "program_id"],
            ["channel_programs.tenant_id", "channel_programs.id"],
            name=op.f("fk_incentive_rules_tenant_id_program_id_channel_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_incentive_rules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_incentive_rules")),
    )
    op.create_index(
        "ix_incentive_rules_program",
        "incentive_rules",
        ["tenant_id", "program_id", "level_id"],
        unique=False,
    )
    op.create_table(
        "earned_incentives",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("opportunity_id", sa.Uuid(), nullable=True),
        sa.Column("rebate_period", sa.String(length=7), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("level_id", sa.Uuid(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("basis", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "APPROVED",
                "PAID",
                "DISPUTED",
                "REJECTED",
                "VOID",
                name="incentive_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("earned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispute_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by", sa.Uuid(), nullable=True),
        sa.Column("payment_reference", sa.String(length=200), nullable=True),
        sa.Column("disputed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disputed_by", sa.Uuid(), nullable=True),
        sa.Column("dispute_reason", sa.String(length=2000), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("resolution_comment", sa.String(length=2000), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        *_timestamps(),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_earned_incentives_amount_nonneg")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "opportunity_id"],
            ["opportunities.tenant_id", "opportunities.id"],
            name=op.f("fk_earned_incentives_tenant_id_opportunity_id_opportunities"),
            ondelete="SET NULL (opportunity_id)",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "partner_id"],
            ["partners.tenant_id", "partners.id"],
            name=op.f("fk_earned_incentives_tenant_id_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "rule_id"],
            ["incentive_rules.tenant_id", "incentive_rules.id"],
            name=op.f("fk_earned_incentives_tenant_id_rule_id_incentive_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_earned_incentives_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_earned_incentives")),
    )
    op.create_index(
        "ix_earned_incentives_opportunity",
        "earned_incentives",
        ["tenant_id", "opportunity_id"],
        unique=False,
    )
    op.create_index(
        "ix_earned_incentives_partner",
        "earned_incentives",
        ["tenant_id", "partner_id", "earned_at"],
        unique=False,
    )
    op.create_index(
        "ix_earned_incentives_status",
        "earned_incentives",
        ["tenant_id", "status", "id"],
        unique=False,
    )
    op.create_index(
        "uq_earned_incentives_deal",
        "earned_incentives",
        ["tenant_id", "rule_id", "opportunity_id"],
        unique=True,
    )
    op.create_index(
        "uq_earned_incentives_rebate",
        "earned_incentives",
        ["tenant_id", "rule_id", "partner_id", "rebate_period"],
        unique=True,
    )
    for table in TENANT_TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    op.drop_index("uq_earned_incentives_rebate", table_name="earned_incentives")
    op.drop_index("uq_earned_incentives_deal", table_name="earned_incentives")
    op.drop_index("ix_earned_incentives_status", table_name="earned_incentives")
    op.drop_index("ix_earned_incentives_partner", table_name="earned_incentives")
    op.drop_index("ix_earned_incentives_opportunity", table_name="earned_incentives")
    op.drop_table("earned_incentives")
    op.drop_index("ix_incentive_rules_program", table_name="incentive_rules")
    op.drop_table("incentive_rules")
