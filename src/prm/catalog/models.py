"""Tables of the catalog: products with options and bundle items, price books and their
entries, promotions, quotes with frozen lines, and stock per product and location."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY as PG_ARRAY
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import MONEY, Base, TenantOwned, tenant_fk

PERCENT = Numeric(5, 2)
MAX_SKU = 64
MAX_LOCATION = 100


class Product(TenantOwned, Base):
    """Something partners sell. A bundle (`is_bundle`) is made of other products; its list
    price is the sum of its items' and `bundle_discount_percent` is its saving. Retiring
    a product clears `active`: it stays on old quotes but is no longer sold."""

    __tablename__ = "products"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        Index("uq_products_tenant_sku", "tenant_id", text("lower(sku)"), unique=True),
        Index("ix_products_tenant_name", "tenant_id", "name", "id"),
        Index("ix_products_tenant_active_name", "tenant_id", "active", "name", "id"),
        Index("ix_products_tenant_family_name", "tenant_id", "family", "name", "id"),
        Index(
            "ix_products_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        Index(
            "ix_products_sku_trgm",
            "sku",
            postgresql_using="gin",
            postgresql_ops={"sku": "gin_trgm_ops"},
        ),
        CheckConstraint(
            "bundle_discount_percent IS NULL OR "
            "(bundle_discount_percent > 0 AND bundle_discount_percent < 100)",
            name="bundle_discount_range",
        ),
        CheckConstraint(
            "is_bundle = (bundle_discount_percent IS NOT NULL)", name="bundle_discount"
        ),
    )

    sku: Mapped[str] = mapped_column(String(MAX_SKU))
    name: Mapped[str] = mapped_column(String(200))
    family: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    is_bundle: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    bundle_discount_percent: Mapped[Decimal | None] = mapped_column(PERCENT)
    retired_at: Mapped[datetime | None] = mapped_column()


class ProductOptionGroup(TenantOwned, Base):
    """A configurable option of a product: choose between `min_choices` and `max_choices`
    of its choices (`required` means at least one)."""

    __tablename__ = "product_option_groups"
    __table_args__ = (
        tenant_fk("product_id", "products", "CASCADE"),
        Index(
            "uq_product_option_groups_position", "tenant_id", "product_id", "position", unique=True
        ),
        CheckConstraint("min_choices >= 0 AND max_choices >= 1", name="choices_nonneg"),
        CheckConstraint("max_choices >= min_choices", name="choices_order"),
        CheckConstraint("NOT required OR min_choices >= 1", name="required_min"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column()
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    min_choices: Mapped[int] = mapped_column(Integer, default=0)
    max_choices: Mapped[int] = mapped_column(Integer, default=1)


class ProductOptionChoice(TenantOwned, Base):
    """One choice of an option group. `price_deltas` maps a currency to the amount the
    choice adds to the unit list price (`{"USD": "120.00"}`); pricing in a currency the
    map lacks is refused, unless the map is empty (the choice is free)."""

    __tablename__ = "product_option_choices"
    __table_args__ = (
        tenant_fk("group_id", "product_option_groups", "CASCADE"),
        tenant_fk("product_id", "products", "CASCADE"),
        Index(
            "uq_product_option_choices_position", "tenant_id", "group_id", "position", unique=True
        ),
        Index("ix_product_option_choices_product", "tenant_id", "product_id"),
    )

    group_id: Mapped[uuid.UUID] = mapped_column()
    product_id: Mapped[uuid.UUID] = mapped_column()
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    price_deltas: Mapped[dict[str, str]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )


class BundleItem(TenantOwned, Base):
    """`quantity` of `item_id` in each unit of bundle `bundle_id` (no nested bundles)."""

    __tablename__ = "product_bundle_items"
    __table_args__ = (
        tenant_fk("bundle_id", "products", "CASCADE"),
        tenant_fk("item_id", "products", "RESTRICT"),
        Index("uq_product_bundle_items", "tenant_id", "bundle_id", "item_id", unique=True),
        Index("ix_product_bundle_items_item", "tenant_id", "item_id"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("bundle_id <> item_id", name="not_self"),
    )

    bundle_id: Mapped[uuid.UUID] = mapped_column()
    item_id: Mapped[uuid.UUID] = mapped_column()
    quantity: Mapped[int] = mapped_column(Integer)


class PriceBookScope(enum.StrEnum):
    DEFAULT = "DEFAULT"
    TIER = "TIER"
    PARTNER = "PARTNER"


class PriceBook(TenantOwned, Base):
    """List prices in one currency: the default book, a tier's, or one partner's. Books of
    the same scope, target and currency never have overlapping validity windows, so at any
    moment at most one of them applies."""

    __tablename__ = "price_books"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("tier_id", "partner_tiers", "CASCADE"),
        tenant_fk("partner_id", "partners", "CASCADE"),
        Index("ix_price_books_scope", "tenant_id", "scope", "currency", "tier_id", "partner_id"),
        Index("ix_price_books_tenant_name", "tenant_id", "name", "id"),
        CheckConstraint(
            "(scope = 'DEFAULT' AND tier_id IS NULL AND partner_id IS NULL)"
            " OR (scope = 'TIER' AND tier_id IS NOT NULL AND partner_id IS NULL)"
            " OR (scope = 'PARTNER' AND partner_id IS NOT NULL AND tier_id IS NULL)",
            name="scope_target",
        ),
        CheckConstraint(
            "valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from",
            name="validity_order",
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    scope: Mapped[PriceBookScope] = mapped_column(
        Enum(PriceBookScope, name="price_book_scope", native_enum=False, length=16)
    )
    tier_id: Mapped[uuid.UUID | None] = mapped_column()
    partner_id: Mapped[uuid.UUID | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    valid_from: Mapped[datetime | None] = mapped_column()
    valid_until: Mapped[datetime | None] = mapped_column()
    entry_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class PriceBookEntry(TenantOwned, Base):
    """A unit price of a product in a book from `min_quantity` units up (a volume break).
    Within a book and product, prices never rise as the break rises."""

    __tablename__ = "price_book_entries"
    __table_args__ = (
        tenant_fk("price_book_id", "price_books", "CASCADE"),
        tenant_fk("product_id", "products", "RESTRICT"),
        Index(
            "uq_price_book_entries_break",
            "tenant_id",
            "price_book_id",
            "product_id",
            "min_quantity",
            unique=True,
        ),
        Index("ix_price_book_entries_product", "tenant_id", "product_id", "price_book_id"),
        CheckConstraint("min_quantity >= 1", name="min_quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_nonneg"),
    )

    price_book_id: Mapped[uuid.UUID] = mapped_column()
    product_id: Mapped[uuid.UUID] = mapped_column()
    min_quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)


class Promotion(TenantOwned, Base):
    """A time-boxed discount, percent (`discount_percent`) or amount off the unit price
    (`discount_amount` in `currency`). Empty target lists mean no restriction. With a
    `code`, it applies only to prices asked for with that code. `usage_count` counts the
    quotes that used it, never past `usage_cap`."""

    __tablename__ = "promotions"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        Index(
            "uq_promotions_tenant_code",
            "tenant_id",
            text("lower(code)"),
            unique=True,
            postgresql_where=text("code IS NOT NULL"),
        ),
        Index("ix_promotions_tenant_window", "tenant_id", "ends_at", "starts_at"),
        Index("ix_promotions_tenant_starts", "tenant_id", "starts_at", "id"),
        CheckConstraint("ends_at > starts_at", name="window_order"),
        CheckConstraint(
            "(discount_percent IS NULL) <> (discount_amount IS NULL)", name="one_discount"
        ),
        CheckConstraint(
            "discount_percent IS NULL OR (discount_percent > 0 AND discount_percent <= 100)",
            name="percent_range",
        ),
        CheckConstraint("discount_amount IS NULL OR discount_amount > 0", name="amount_positive"),
        CheckConstraint("(discount_amount IS NULL) = (currency IS NULL)", name="amount_currency"),
        CheckConstraint("usage_cap IS NULL OR usage_cap >= 1", name="usage_cap_positive"),
        CheckConstraint(
            "usage_count >= 0 AND (usage_cap IS NULL OR usage_count <= usage_cap)",
            name="usage_within_cap",
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(String(64))
    discount_percent: Mapped[Decimal | None] = mapped_column(PERCENT)
    discount_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(3))
    tier_ids: Mapped[list[uuid.UUID]] = mapped_column(PG_ARRAY(Uuid), default=list)
    regions: Mapped[list[str]] = mapped_column(PG_ARRAY(String(100)), default=list)
    partner_ids: Mapped[list[uuid.UUID]] = mapped_column(PG_ARRAY(Uuid), default=list)
    product_ids: Mapped[list[uuid.UUID]] = mapped_column(PG_ARRAY(Uuid), default=list)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    stackable: Mapped[bool] = mapped_column(Boolean, default=False)
    usage_cap: Mapped[int | None] = mapped_column(Integer)
    usage_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ended_at: Mapped[datetime | None] = mapped_column()


class QuoteStatus(enum.StrEnum):
    DRAFT = "DRAFT"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    EXPIRED = "EXPIRED"


class QuoteCounter(Base):
    """The last quote number given in a tenant. Taking a number updates this row inside
    the quote's transaction, so concurrent quotes queue on its lock and a rolled-back
    quote gives its number back: numbers have no gaps."""

    __tablename__ = "quote_counters"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    last_number: Mapped[int] = mapped_column(Integer)


class Quote(TenantOwned, Base):
    """A priced offer to a customer. Lines and totals are frozen when it is priced
    (created or updated as a DRAFT): later price changes do not alter it."""

    __tablename__ = "quotes"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("partner_id", "partners", "CASCADE"),
        tenant_fk("account_id", "accounts", "SET NULL (account_id)"),
        tenant_fk("opportunity_id", "opportunities", "SET NULL (opportunity_id)"),
        tenant_fk("created_by", "users", "SET NULL (created_by)"),
        Index("uq_quotes_tenant_number", "tenant_id", "number", unique=True),
        Index("ix_quotes_tenant_status", "tenant_id", "status", "created_at", "id"),
        Index("ix_quotes_tenant_partner", "tenant_id", "partner_id", "created_at", "id"),
        Index("ix_quotes_tenant_account", "tenant_id", "account_id", "created_at", "id"),
        Index("ix_quotes_tenant_opportunity", "tenant_id", "opportunity_id"),
        Index("ix_quotes_tenant_created", "tenant_id", "created_at", "id"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint(
            "subtotal >= 0 AND total >= 0 AND discount_total >= 0", name="totals_nonneg"
        ),
    )

    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[QuoteStatus] = mapped_column(
        Enum(QuoteStatus, name="quote_status", native_enum=False, length=16),
        default=QuoteStatus.DRAFT,
    )
    partner_id: Mapped[uuid.UUID | None] = mapped_column()
    account_id: Mapped[uuid.UUID | None] = mapped_column()
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    valid_until: Mapped[date | None] = mapped_column(Date)
    location: Mapped[str | None] = mapped_column(String(MAX_LOCATION))
    promotion_code: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    subtotal: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    """The sum of list unit price times quantity: the price before any adjustment."""
    discount_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    warning_count: Mapped[int] = mapped_column(Integer, default=0)
    promotion_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    """Promotions whose usage this quote counted (released when it is re-priced)."""
    priced_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    expired_at: Mapped[datetime | None] = mapped_column()


class QuoteLine(TenantOwned, Base):
    """One product line with its options and the price breakdown as it was at quote time
    (`adjustments`: `[{"kind", "label", "unitAmount"}]`, `options`: `[{"id", "group",
    "name", "unitAmount"}]`)."""

    __tablename__ = "quote_lines"
    __table_args__ = (
        tenant_fk("quote_id", "quotes", "CASCADE"),
        tenant_fk("product_id", "products", "RESTRICT"),
        Index("uq_quote_lines_position", "tenant_id", "quote_id", "position", unique=True),
        Index("ix_quote_lines_product", "tenant_id", "product_id"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint(
            "unit_price >= 0 AND unit_price <= list_unit_price AND total >= 0",
            name="prices_bounded",
        ),
    )

    quote_id: Mapped[uuid.UUID] = mapped_column()
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[uuid.UUID] = mapped_column()
    sku: Mapped[str] = mapped_column(String(MAX_SKU))
    product_name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    options: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    list_unit_price: Mapped[Decimal] = mapped_column(MONEY)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    total: Mapped[Decimal] = mapped_column(MONEY)
    adjustments: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    stock_warning: Mapped[str | None] = mapped_column(String(32))


class StockLevel(TenantOwned, Base):
    """Units of a product on hand at a location (a warehouse or site code)."""

    __tablename__ = "stock_levels"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("product_id", "products", "CASCADE"),
        Index(
            "uq_stock_levels_product_location", "tenant_id", "product_id", "location", unique=True
        ),
        Index("ix_stock_levels_location", "tenant_id", "location", "product_id"),
        CheckConstraint("on_hand >= 0", name="on_hand_nonneg"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column()
    location: Mapped[str] = mapped_column(String(MAX_LOCATION))
    on_hand: Mapped[int] = mapped_column(Integer)


class StockAllocation(TenantOwned, Base):
    """Units of a product at a location set aside for one partner: others cannot count
    them as available."""

    __tablename__ = "stock_allocations"
    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (
        tenant_fk("product_id", "products", "CASCADE"),
        tenant_fk("partner_id", "partners", "CASCADE"),
        Index(
            "uq_stock_allocations",
            "tenant_id",
            "product_id",
            "location",
            "partner_id",
            unique=True,
        ),
        Index("ix_stock_allocations_partner", "tenant_id", "partner_id"),
        CheckConstraint("quantity >= 0", name="quantity_nonneg"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column()
    location: Mapped[str] = mapped_column(String(MAX_LOCATION))
    partner_id: Mapped[uuid.UUID] = mapped_column()
    quantity: Mapped[int] = mapped_column(Integer)
