"""Catalog rows for tests, written directly and committed (so HTTP requests see them):
products, price books with entries, promotions. Amounts are strings for readability."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from prm.catalog.models import (
    BundleItem,
    PriceBook,
    PriceBookEntry,
    PriceBookScope,
    Product,
    Promotion,
)
from prm.db.engine import Database
from tests.factories import unique

NOW = datetime.now(UTC)


async def make_product(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    sku: str | None = None,
    name: str | None = None,
    family: str | None = None,
    active: bool = True,
    bundle_items: Sequence[tuple[Product, int]] = (),
    bundle_discount_percent: str | None = None,
) -> Product:
    """A product; with `bundle_items` ((item, quantity) pairs) a bundle saving
    `bundle_discount_percent` (default 10)."""
    async with db.session(tenant_id) as session:
        product = Product(
            tenant_id=tenant_id,
            sku=sku or unique("SKU").upper(),
            name=name or unique("Product"),
            family=family,
            active=active,
            is_bundle=bool(bundle_items),
            bundle_discount_percent=Decimal(bundle_discount_percent or "10")
            if bundle_items
            else None,
        )
        session.add(product)
        await session.flush()
        for item, quantity in bundle_items:
            session.add(
                BundleItem(
                    tenant_id=tenant_id, bundle_id=product.id, item_id=item.id, quantity=quantity
                )
            )
    return product


async def make_price_book(
    db: Database,
    tenant_id: uuid.UUID,
    entries: Iterable[tuple[Product, str] | tuple[Product, str, int]] = (),
    *,
    currency: str = "USD",
    tier_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    name: str | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> PriceBook:
    """A book (default unless `tier_id` or `partner_id`) with entries given as
    (product, unit price) or (product, unit price, min quantity)."""
    scope = (
        PriceBookScope.PARTNER
        if partner_id
        else PriceBookScope.TIER
        if tier_id
        else PriceBookScope.DEFAULT
    )
    rows = [(e[0], e[1], e[2] if len(e) > 2 else 1) for e in entries]
    async with db.session(tenant_id) as session:
        book = PriceBook(
            tenant_id=tenant_id,
            name=name or unique("Book"),
            currency=currency,
            scope=scope,
            tier_id=tier_id,
            partner_id=partner_id,
            valid_from=valid_from,
            valid_until=valid_until,
            entry_count=len(rows),
        )
        session.add(book)
        await session.flush()
        for product, price, min_quantity in rows:
            session.add(
                PriceBookEntry(
                    tenant_id=tenant_id,
                    price_book_id=book.id,
                    product_id=product.id,
                    unit_price=Decimal(price),
                    min_quantity=min_quantity,
                )
            )
    return book


async def make_promotion(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    name: str | None = None,
    percent: str | None = None,
    amount: str | None = None,
    currency: str | None = None,
    stackable: bool = False,
    code: str | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    **targets: Any,
) -> Promotion:
    """A running promotion (from a day ago to a week ahead unless given): `percent` off,
    or `amount` off in `currency` (default USD). `targets`: tier_ids, regions,
    partner_ids, product_ids, usage_cap."""
    if percent is None and amount is None:
        percent = "10"
    async with db.session(tenant_id) as session:
        promotion = Promotion(
            tenant_id=tenant_id,
            name=name or unique("Promo"),
            code=code,
            discount_percent=Decimal(percent) if percent is not None else None,
            discount_amount=Decimal(amount) if amount is not None else None,
            currency=(currency or "USD") if amount is not None else None,
            stackable=stackable,
            starts_at=starts_at or NOW - timedelta(days=1),
            ends_at=ends_at or NOW + timedelta(days=7),
            tier_ids=list(targets.get("tier_ids", [])),
            regions=[r.upper() for r in targets.get("regions", [])],
            partner_ids=list(targets.get("partner_ids", [])),
            product_ids=list(targets.get("product_ids", [])),
            usage_cap=targets.get("usage_cap"),
        )
        session.add(promotion)
    return promotion
