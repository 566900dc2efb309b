"""Product associations for cross-sell and up-sell, computed by a worker from won deals'
quote lines (association rules) and from the catalog (higher-value alternatives)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import Base, tenant_fk


class AssociationKind(enum.StrEnum):
    BOUGHT_TOGETHER = "BOUGHT_TOGETHER"
    """Cross-sell: bought in the same won deal (rule product → related product)."""
    UPGRADE = "UPGRADE"
    """Up-sell: a higher-priced product of the same family."""


class ProductAssociation(Base):
    """`product → related` with its support (share of won deals holding both), confidence
    (share of the product's deals also holding the related one) and lift. The worker
    replaces a tenant's rows whole, like the scorecard snapshots."""

    __tablename__ = "product_associations"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "kind", "product_id", "related_product_id"),
        tenant_fk("product_id", "products", "CASCADE"),
        tenant_fk("related_product_id", "products", "CASCADE"),
        Index("ix_product_associations_rank", "tenant_id", "product_id", "kind", "confidence"),
        CheckConstraint("support >= 0 AND support <= 1", name="support_range"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    kind: Mapped[AssociationKind] = mapped_column(
        Enum(AssociationKind, name="association_kind", native_enum=False, length=16)
    )
    product_id: Mapped[uuid.UUID] = mapped_column()
    related_product_id: Mapped[uuid.UUID] = mapped_column()
    support: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    lift: Mapped[float | None] = mapped_column(Float)
    deals: Mapped[int] = mapped_column(Integer)
    """Won deals holding both (the support's numerator)."""
    computed_at: Mapped[datetime] = mapped_column()
