"""Who may see and change which catalog records: the one place these rules live. Lists,
DataLoaders, `node(id:)`, pricing and mutations start from the statements here.

- Tenant staff see every product, price book, promotion and quote of their tenant;
  ADMIN and MANAGER (and API clients holding those roles) maintain the catalog, prices,
  promotions and stock.
- A partner user sees the active products; the default price books, its tier's and its
  own; the promotions aimed at it that are running (`aimed_at_partner`, `running_at`); and its
  partner's quotes. It prices and quotes for its own partner only.

Anything else is invisible: absent from lists, `null` as a node, `NOT_FOUND` to mutations.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    cast,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import array

from prm.auth.principal import Principal, Role, is_staff, own_partner
from prm.catalog.models import PriceBook, PriceBookScope, Product, Promotion, Quote
from prm.errors import Forbidden, NotFound
from prm.partners.models import Partner

CATALOG_MANAGERS = (Role.ADMIN, Role.MANAGER)


def require_catalog_manager(principal: Principal) -> None:
    if not principal.has_any(*CATALOG_MANAGERS):
        raise Forbidden("only admins and managers maintain the catalog")


def product_visible(principal: Principal) -> ColumnElement[bool]:
    if is_staff(principal):
        return true()
    return Product.active.is_(True) if own_partner(principal) else false()


def readable_products(principal: Principal) -> Select[Product]:
    return select(Product).where(
        Product.tenant_id == principal.tenant_id, product_visible(principal)
    )


def _partner_tier(partner_id: uuid.UUID) -> ColumnElement[Any]:
    return select(Partner.tier_id).where(Partner.id == partner_id).scalar_subquery()


def price_book_visible(principal: Principal) -> ColumnElement[bool]:
    if is_staff(principal):
        return true()
    partner = own_partner(principal)
    if partner is None:
        return false()
    return or_(
        PriceBook.scope == PriceBookScope.DEFAULT,
        and_(PriceBook.scope == PriceBookScope.TIER, PriceBook.tier_id == _partner_tier(partner)),
        and_(PriceBook.scope == PriceBookScope.PARTNER, PriceBook.partner_id == partner),
    )


def readable_price_books(principal: Principal) -> Select[PriceBook]:
    return select(PriceBook).where(
        PriceBook.tenant_id == principal.tenant_id, price_book_visible(principal)
    )


def aimed_at_partner(tenant_id: uuid.UUID, partner_id: uuid.UUID) -> ColumnElement[bool]:
    """Targeted at the partner whenever it runs, as pricing matches it: by id, by its tier
    and by its country or region (`regions` are stored upper-cased); each empty list means
    everyone. An unknown partner matches nothing."""

    def of_partner(column: Any) -> ColumnElement[Any]:
        return (
            select(column)
            .where(Partner.tenant_id == tenant_id, Partner.id == partner_id)
            .scalar_subquery()
        )

    places = cast(
        array([of_partner(func.upper(Partner.country)), of_partner(func.upper(Partner.region))]),
        ARRAY(String(100)),
    )
    return and_(
        select(Partner.id).where(Partner.tenant_id == tenant_id, Partner.id == partner_id).exists(),
        or_(
            func.cardinality(Promotion.partner_ids) == 0,
            Promotion.partner_ids.contains([partner_id]),
        ),
        or_(
            func.cardinality(Promotion.tier_ids) == 0,
            of_partner(Partner.tier_id) == any_(Promotion.tier_ids),
        ),
        or_(func.cardinality(Promotion.regions) == 0, Promotion.regions.overlap(places)),
    )


def running_at(at: datetime) -> ColumnElement[bool]:
    return and_(Promotion.starts_at <= at, Promotion.ends_at > at)


def promotion_visible(principal: Principal, at: datetime) -> ColumnElement[bool]:
    if is_staff(principal):
        return true()
    partner = own_partner(principal)
    return (
        false()
        if partner is None
        else and_(running_at(at), aimed_at_partner(principal.tenant_id, partner))
    )


def readable_promotions(principal: Principal, at: datetime) -> Select[Promotion]:
    """Staff: every promotion; a partner user: those aimed at it and running at `at`."""
    return select(Promotion).where(
        Promotion.tenant_id == principal.tenant_id, promotion_visible(principal, at)
    )


def quote_visible(principal: Principal) -> ColumnElement[bool]:
    if is_staff(principal):
        return true()
    partner = own_partner(principal)
    return false() if partner is None else Quote.partner_id == partner


def readable_quotes(principal: Principal) -> Select[Quote]:
    return select(Quote).where(Quote.tenant_id == principal.tenant_id, quote_visible(principal))


def pricing_partner(principal: Principal, requested: uuid.UUID | None) -> uuid.UUID | None:
    """The partner a price or quote is for: a partner user's own (asking for another is
    NOT_FOUND, so other partners' existence does not leak); staff choose any or none."""
    partner = own_partner(principal)
    if partner is not None:
        if requested is not None and requested != partner:
            raise NotFound("no such partner", field="partnerId")
        return partner
    if not is_staff(principal):
        raise Forbidden("only staff and partner users price and quote")
    return requested
