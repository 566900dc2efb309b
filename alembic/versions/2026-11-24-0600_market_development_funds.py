"""market development funds

Budgets per period, their allocations to partners, partners' fund requests, claims with
proof of performance and their files, and the append-only `mdf_events` audit trail. Every
table is tenant-owned with row-level security; the app role may only read and append
events.

Revision ID: 3d1f0a7c9b21
Revises: ad69626f626e
Create Date: 2026-11-24 06:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from prm.db.rls import enable_tenant_rls

revision: str = "3d1f0a7c9b21"
down_revision: str | None = "ad69626f626e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TENANT_TABLES = [
    "mdf_budgets",
    "mdf_allocations",
    "mdf_fund_requests",
    "mdf_fund_claims",
    "mdf_claim_files",
]


def upgrade() -> None:
    op.create_table(
        "mdf_budgets",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("allocated", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
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
        sa.CheckConstraint(
            "allocated >= 0 AND allocated <= amount", name=op.f("ck_mdf_budgets_allocated_within")
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_mdf_budgets_amount_nonneg")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mdf_budgets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mdf_budgets")),
    )
    op.create_index(
        "uq_mdf_budgets_name", "mdf_budgets", ["tenant_id", "period", "name"], unique=True
    )
    op.create_table(
        "mdf_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "entity",
            sa.Enum(
                "BUDGET",
                "ALLOCATION",
                "REQUEST",
                "CLAIM",
                name="mdf_entity",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("comment", sa.String(length=2000), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mdf_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mdf_events")),
    )
    op.create_index(
        "ix_mdf_events_entity",
        "mdf_events",
        ["tenant_id", "entity_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "mdf_allocations",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("budget_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("requested", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column(
            "source",
            sa.Enum("MANUAL", "LEVEL", name="mdf_alloc_source", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("level_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
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
        sa.CheckConstraint("amount > 0", name=op.f("ck_mdf_allocations_amount_positive")),
        sa.CheckConstraint(
            "requested >= 0 AND requested <= amount",
            name=op.f("ck_mdf_allocations_requested_within"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "budget_id"],
            ["mdf_budgets.tenant_id", "mdf_budgets.id"],
            name=op.f("fk_mdf_allocations_tenant_id_budget_id_mdf_budgets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "partner_id"],
            ["partners.tenant_id", "partners.id"],
            name=op.f("fk_mdf_allocations_tenant_id_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mdf_allocations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mdf_allocations")),
    )
    op.create_index(
        "ix_mdf_allocations_partner", "mdf_allocations", ["tenant_id", "partner_id"], unique=False
    )
    op.create_index(
        "uq_mdf_allocations_partner",
        "mdf_allocations",
        ["tenant_id", "budget_id", "partner_id"],
        unique=True,
    )
    op.create_table(
        "mdf_fund_requests",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("allocation_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("activity", sa.String(length=500), nullable=False),
        sa.Column("campaign", sa.String(length=200), nullable=True),
        sa.Column("expected_outcome", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "SUBMITTED",
                "APPROVED",
                "REJECTED",
                "CANCELLED",
                "CLAIMED",
                name="mdf_request_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_comment", sa.String(length=2000), nullable=True),
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
        sa.CheckConstraint("amount > 0", name=op.f("ck_mdf_fund_requests_amount_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "allocation_id"],
            ["mdf_allocations.tenant_id", "mdf_allocations.id"],
            name=op.f("fk_mdf_fund_requests_tenant_id_allocation_id_mdf_allocations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "partner_id"],
            ["partners.tenant_id", "partners.id"],
            name=op.f("fk_mdf_fund_requests_tenant_id_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mdf_fund_requests_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mdf_fund_requests")),
    )
    op.create_index(
        "ix_mdf_fund_requests_allocation",
        "mdf_fund_requests",
        ["tenant_id", "allocation_id"],
        unique=False,
    )
    op.create_index(
        "ix_mdf_fund_requests_partner",
        "mdf_fund_requests",
        ["tenant_id", "partner_id", "status", "id"],
        unique=False,
    )
    op.create_index(
        "ix_mdf_fund_requests_status",
        "mdf_fund_requests",
        ["tenant_id", "status", "id"],
        unique=False,
    )
    op.create_table(
        "mdf_fund_claims",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("partner_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "SUBMITTED",
                "APPROVED",
                "REJECTED",
                "PAID",
                name="mdf_claim_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("submitted_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_comment", sa.String(length=2000), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_reference", sa.String(length=200), nullable=True),
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
        sa.CheckConstraint("amount > 0", name=op.f("ck_mdf_fund_claims_amount_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "partner_id"],
            ["partners.tenant_id", "partners.id"],
            name=op.f("fk_mdf_fund_claims_tenant_id_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "request_id"],
            ["mdf_fund_requests.tenant_id", "mdf_fund_requests.id"],
            name=op.f("fk_mdf_fund_claims_tenant_id_request_id_mdf_fund_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mdf_fund_claims_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mdf_fund_claims")),
    )
    op.create_index(
        "ix_mdf_fund_claims_partner",
        "mdf_fund_claims",
        ["tenant_id", "partner_id", "status", "id"],
        unique=False,
    )
    op.create_index(
        "ix_mdf_fund_claims_request", "mdf_fund_claims", ["tenant_id", "request_id"], unique=False
    )
    op.create_index(
        "ix_mdf_fund_claims_status", "mdf_fund_claims", ["tenant_id", "status", "id"], unique=False
    )
    op.create_index(
        "uq_mdf_fund_claims_live",
        "mdf_fund_claims",
        ["tenant_id", "request_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'REJECTED'"),
    )
    op.create_table(
        "mdf_claim_files",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("claim_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
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
        sa.ForeignKeyConstraint(
            ["tenant_id", "claim_id"],
            ["mdf_fund_claims.tenant_id", "mdf_fund_claims.id"],
            name=op.f("fk_mdf_claim_files_tenant_id_claim_id_mdf_fund_claims"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mdf_claim_files_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mdf_claim_files")),
    )
    op.create_index(
        "ix_mdf_claim_files_claim", "mdf_claim_files", ["tenant_id", "claim_id"], unique=False
    )

    for table in TENANT_TABLES:
        enable_tenant_rls(table)
    enable_tenant_rls("mdf_events", "SELECT, INSERT")


def downgrade() -> None:
    op.drop_index("ix_mdf_claim_files_claim", table_name="mdf_claim_files")
    op.drop_table("mdf_claim_files")
    op.drop_index(
        "uq_mdf_fund_claims_live",
        table_name="mdf_fund_claims",
        postgresql_where=sa.text("status <> 'REJECTED'"),
    )
    op.drop_index("ix_mdf_fund_claims_status", table_name="mdf_fund_claims")
    op.drop_index("ix_mdf_fund_claims_request", table_name="mdf_fund_claims")
    op.drop_index("ix_mdf_fund_claims_partner", table_name="mdf_fund_claims")
    op.drop_table("mdf_fund_claims")
    op.drop_index("ix_mdf_fund_requests_status", table_name="mdf_fund_requests")
    op.drop_index("ix_mdf_fund_requests_partner", table_name="mdf_fund_requests")
    op.drop_index("ix_mdf_fund_requests_allocation", table_name="mdf_fund_requests")
    op.drop_table("mdf_fund_requests")
    op.drop_index("uq_mdf_allocations_partner", table_name="mdf_allocations")
    op.drop_index("ix_mdf_allocations_partner", table_name="mdf_allocations")
    op.drop_table("mdf_allocations")
    op.drop_index("ix_mdf_events_entity", table_name="mdf_events")
    op.drop_table("mdf_events")
    op.drop_index("uq_mdf_budgets_name", table_name="mdf_budgets")
    op.drop_table("mdf_budgets")
