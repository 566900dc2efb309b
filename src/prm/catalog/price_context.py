"""Loading what pricing needs, for one line or a whole quote, in a fixed number of
statements, then pricing each line with the pure `pricing.compute_price`.

`price_lines` reads, whatever the number of lines: the partner with its tier, the
products, the bundles' items, the products' option groups and choices, the candidate
price books with their entries for every product involved, and the running promotions
(plus the tenant's default currency when none is given): seven or eight statements.

Which book prices a product (API.md): the partner's own book, else its tier's, else the
default; of those, the first that is active, in the currency, valid at `at` and has an
entry the quantity reaches. Books of one scope and target never overlap in time; should
two ever both apply, the one valid from later wins, then the lower id.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.catalog.models import (
    BundleItem,
    PriceBook,
    PriceBookEntry,
    PriceBookScope,
    Product,
    ProductOptionChoice,
    ProductOptionGroup,
    Promotion,
)
from prm.catalog.pricing import (
    Buyer,
    Component,
    Discount,
    NoPrice,
    OptionPrice,
    PriceBreakdown,
    PriceRequest,
    PromotionMatcher,
    PromotionRule,
    PromotionTerms,
    VolumeBreak,
    compute_price,
)
from prm.catalog.visibility import is_staff
from prm.errors import DomainError, ErrorCode, InvalidInput, NotFound
from prm.money import normalise_currency
from prm.partners.models import Partner, PartnerTier
from prm.tenants.models import Tenant

MAX_QUANTITY = 1_000_000
MAX_LINES = 1_000
SCOPE_ORDER = {PriceBookScope.PARTNER: 0, PriceBookScope.TIER: 1, PriceBookScope.DEFAULT: 2}


@dataclass(frozen=True)
class LineRequest:
    """One line to price. `field` prefixes error fields (`"lines.3."` in a quote)."""

    product_id: uuid.UUID
    quantity: int
    option_ids: tuple[uuid.UUID, ...] = ()
    field: str = ""


@dataclass(frozen=True)
class ChosenOption:
    id: uuid.UUID
    group: str
    name: str
    unit_amount: Decimal

    def as_json(self) -> dict[str, str]:
        """How a quote line freezes it."""
        return {
            "id": str(self.id),
            "group": self.group,
            "name": self.name,
            "unitAmount": str(self.unit_amount),
        }


@dataclass(frozen=True)
class PricedLine:
    request: LineRequest
    product: Product
    options: tuple[ChosenOption, ...]
    breakdown: PriceBreakdown


@dataclass(frozen=True)
class PricingResult:
    currency: str
    partner: Partner | None
    lines: list[PricedLine]


async def price_lines(
    session: AsyncSession,
    principal: Principal,
    lines: Sequence[LineRequest],
    *,
    partner_id: uuid.UUID | None,
    at: datetime,
    currency: str | None = None,
    promotion_code: str | None = None,
) -> PricingResult:
    """Price `lines` for `partner_id` (already authorised: see
    `visibility.pricing_partner`) at `at`. Raises a `DomainError` naming the first bad
    line: an unknown or hidden product (`NOT_FOUND`), a retired one, options that break
    the product's rules, or no price (`INVALID`)."""
    tenant_id = principal.tenant_id
    if not lines:
        raise InvalidInput("at least one line is needed", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidInput(f"at most {MAX_LINES} lines", field="lines")
    for line in lines:
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InvalidInput(
                f"must be between 1 and {MAX_QUANTITY}", field=f"{line.field}quantity"
            )

    partner, tier = await _partner(session, tenant_id, partner_id)
    if currency is not None:
        currency = normalise_currency(currency)
    else:
        currency = (
            await session.scalar(select(Tenant.default_currency).where(Tenant.id == tenant_id))
        ) or "USD"
    products = await _products(session, principal, {line.product_id for line in lines})
    for line in lines:
        product = products.get(line.product_id)
        if product is None:
            raise NotFound("no such product", field=f"{line.field}productId")
        if not product.active:
            raise InvalidInput(f"{product.sku} is retired", field=f"{line.field}productId")
    items = await _bundle_items(
        session, tenant_id, [p.id for p in products.values() if p.is_bundle]
    )
    options = await _options(session, tenant_id, list(products))
    component_ids = set(products) | {item.item_id for rows in items.values() for item in rows}
    books = await _books(session, tenant_id, currency, at, partner, tier, component_ids)
    rules = await _promotions(session, tenant_id, at, currency)
    if promotion_code is not None:
        code = promotion_code.strip()
        coded = [r for r in rules if r.code is not None and r.code.casefold() == code.casefold()]
        if not coded:
            raise NotFound("no running promotion has this code", field="promotionCode")
        if all(r.exhausted for r in coded):
            raise DomainError(
                "this promotion code has been used up",
                field="promotionCode",
                code=ErrorCode.LIMIT_EXCEEDED,
            )
        promotion_code = code

    buyer = Buyer(
        partner_id=partner.id if partner else None,
        tier_id=partner.tier_id if partner else None,
        country=partner.country if partner else None,
        region=partner.region if partner else None,
    )
    tier_step = (
        Discount(f"{tier.name} tier {tier.discount_percent.normalize():f}%", tier.discount_percent)
        if tier is not None and tier.discount_percent > 0
        else None
    )
    partner_step = (
        Discount(
            f"Partner discount {partner.discount_percent.normalize():f}%",
            partner.discount_percent,
        )
        if partner is not None and partner.discount_percent
        else None
    )
    promotions = PromotionMatcher(rules, buyer=buyer, at=at, currency=currency, code=promotion_code)
    priced: list[PricedLine] = []
    for line in lines:
        product = products[line.product_id]
        chosen = _choose_options(product, line, options.get(product.id, []), currency)
        parts = (
            [(item.item_id, item.quantity) for item in items.get(product.id, [])]
            if product.is_bundle
            else [(product.id, 1)]
        )
        components = tuple(
            Component(pid, qty, _breaks_for(books, pid, line.quantity * qty, product, line))
            for pid, qty in parts
        )
        request = PriceRequest(
            currency=currency,
            quantity=line.quantity,
            components=components,
            options=tuple(OptionPrice(o.id, o.name, o.unit_amount) for o in chosen),
            tier=tier_step,
            partner=partner_step,
            promotions=promotions.terms_for(product.id),
            bundle=Discount(
                f"Bundle saving {product.bundle_discount_percent.normalize():f}%",
                product.bundle_discount_percent,
            )
            if product.is_bundle and product.bundle_discount_percent
            else None,
        )
        priced.append(PricedLine(line, product, tuple(chosen), compute_price(request)))
    return PricingResult(currency=currency, partner=partner, lines=priced)


async def _partner(
    session: AsyncSession, tenant_id: uuid.UUID, partner_id: uuid.UUID | None
) -> tuple[Partner | None, PartnerTier | None]:
    if partner_id is None:
        return None, None
    row = (
        await session.execute(
            select(Partner, PartnerTier)
            .outerjoin(
                PartnerTier,
                and_(PartnerTier.tenant_id == Partner.tenant_id, PartnerTier.id == Partner.tier_id),
            )
            .where(Partner.tenant_id == tenant_id, Partner.id == partner_id)
        )
    ).first()
    if row is None:
        raise NotFound("no such partner", field="partnerId")
    return row[0], row[1]


async def _products(
    session: AsyncSession, principal: Principal, ids: set[uuid.UUID]
) -> dict[uuid.UUID, Product]:
    statement = select(Product).where(Product.tenant_id == principal.tenant_id, Product.id.in_(ids))
    rows = (await session.scalars(statement)).all()
    # Partner users see active products only; a retired one reads as not found to them.
    return {p.id: p for p in rows if p.active or is_staff(principal)}


async def _bundle_items(
    session: AsyncSession, tenant_id: uuid.UUID, bundle_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[BundleItem]]:
    found: dict[uuid.UUID, list[BundleItem]] = defaultdict(list)
    if bundle_ids:
        rows = await session.scalars(
            select(BundleItem)
            .where(BundleItem.tenant_id == tenant_id, BundleItem.bundle_id.in_(bundle_ids))
            .order_by(BundleItem.bundle_id, BundleItem.item_id)
        )
        for item in rows:
            found[item.bundle_id].append(item)
    return found


async def _options(
    session: AsyncSession, tenant_id: uuid.UUID, product_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[ProductOptionGroup, ProductOptionChoice | None]]]:
    """Every option group of the products with its choices (a group without choices
    appears once with None), in position order."""
    rows = await session.execute(
        select(ProductOptionGroup, ProductOptionChoice)
        .outerjoin(
            ProductOptionChoice,
            and_(
                ProductOptionChoice.tenant_id == ProductOptionGroup.tenant_id,
                ProductOptionChoice.group_id == ProductOptionGroup.id,
            ),
        )
        .where(
            ProductOptionGroup.tenant_id == tenant_id,
            ProductOptionGroup.product_id.in_(product_ids),
        )
        .order_by(ProductOptionGroup.position, ProductOptionChoice.position)
    )
    found: dict[uuid.UUID, list[tuple[ProductOptionGroup, ProductOptionChoice | None]]] = (
        defaultdict(list)
    )
    for group, choice in rows:
        found[group.product_id].append((group, choice))
    return found


def _choose_options(
    product: Product,
    line: LineRequest,
    groups: list[tuple[ProductOptionGroup, ProductOptionChoice | None]],
    currency: str,
) -> list[ChosenOption]:
    """The chosen choices, checked against the product's rules: each belongs to the
    product, none twice, and every group gets between its min and max choices."""
    field = f"{line.field}optionIds"
    if len(set(line.option_ids)) != len(line.option_ids):
        raise InvalidInput("a choice is given twice", field=field)
    by_id = {choice.id: (group, choice) for group, choice in groups if choice is not None}
    unknown = [c for c in line.option_ids if c not in by_id]
    if unknown:
        raise InvalidInput(f"not a choice of {product.sku}", field=field)
    counts: dict[uuid.UUID, int] = defaultdict(int)
    for choice_id in line.option_ids:
        counts[by_id[choice_id][0].id] += 1
    for group in {g.id: g for g, _ in groups}.values():
        count = counts[group.id]
        if count < group.min_choices:
            raise InvalidInput(f"{group.name}: choose at least {group.min_choices}", field=field)
        if count > group.max_choices:
            raise InvalidInput(f"{group.name}: choose at most {group.max_choices}", field=field)
    chosen: list[ChosenOption] = []
    for choice_id in line.option_ids:
        group, choice = by_id[choice_id]
        deltas = choice.price_deltas or {}
        if deltas and currency not in deltas:
            raise InvalidInput(
                f"{group.name}: {choice.name} has no price in {currency}", field=field
            )
        chosen.append(
            ChosenOption(choice.id, group.name, choice.name, Decimal(deltas.get(currency, "0")))
        )
    return chosen


@dataclass(frozen=True)
class _Book:
    id: uuid.UUID
    entries: dict[uuid.UUID, tuple[VolumeBreak, ...]]


async def _books(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    currency: str,
    at: datetime,
    partner: Partner | None,
    tier: PartnerTier | None,
    product_ids: set[uuid.UUID],
) -> list[_Book]:
    """The books that may price for this buyer, best first, with their entries for
    `product_ids`."""
    scopes = [PriceBook.scope == PriceBookScope.DEFAULT]
    if tier is not None:
        scopes.append(and_(PriceBook.scope == PriceBookScope.TIER, PriceBook.tier_id == tier.id))
    if partner is not None:
        scopes.append(
            and_(PriceBook.scope == PriceBookScope.PARTNER, PriceBook.partner_id == partner.id)
        )
    rows = (
        await session.execute(
            select(
                PriceBook.id,
                PriceBook.scope,
                PriceBook.valid_from,
                PriceBookEntry.product_id,
                PriceBookEntry.min_quantity,
                PriceBookEntry.unit_price,
            )
            .join(
                PriceBookEntry,
                and_(
                    PriceBookEntry.tenant_id == PriceBook.tenant_id,
                    PriceBookEntry.price_book_id == PriceBook.id,
                ),
            )
            .where(
                PriceBook.tenant_id == tenant_id,
                PriceBook.currency == currency,
                PriceBook.active.is_(True),
                or_(PriceBook.valid_from.is_(None), PriceBook.valid_from <= at),
                or_(PriceBook.valid_until.is_(None), PriceBook.valid_until > at),
                or_(*scopes),
                PriceBookEntry.product_id.in_(product_ids),
            )
        )
    ).all()
    # Plain columns, not ORM objects: a 500-line quote reads thousands of entries.
    rank: dict[uuid.UUID, tuple[int, float, uuid.UUID]] = {}
    entries: dict[uuid.UUID, dict[uuid.UUID, list[VolumeBreak]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for book_id, scope, valid_from, product_id, min_quantity, unit_price in rows:
        if book_id not in rank:
            start = valid_from.timestamp() if valid_from is not None else float("-inf")
            rank[book_id] = (SCOPE_ORDER[scope], -start, book_id)
        entries[book_id][product_id].append(VolumeBreak(min_quantity, unit_price))
    return [
        _Book(book_id, {pid: tuple(breaks) for pid, breaks in entries[book_id].items()})
        for book_id in sorted(rank, key=rank.__getitem__)
    ]


def _breaks_for(
    books: list[_Book], product_id: uuid.UUID, quantity: int, product: Product, line: LineRequest
) -> tuple[VolumeBreak, ...]:
    """The first book's entries for the product that the quantity reaches."""
    for book in books:
        breaks = book.entries.get(product_id)
        if breaks and min(b.min_quantity for b in breaks) <= quantity:
            return breaks
    raise NoPrice(
        product_id,
        f"{product.sku} has no price for {line.quantity} in any price book that applies",
        field=f"{line.field}productId",
    )


async def _promotions(
    session: AsyncSession, tenant_id: uuid.UUID, at: datetime, currency: str
) -> list[PromotionRule]:
    rows = await session.scalars(
        select(Promotion).where(
            Promotion.tenant_id == tenant_id,
            Promotion.starts_at <= at,
            Promotion.ends_at > at,
            or_(Promotion.currency.is_(None), Promotion.currency == currency),
        )
    )
    return [rule_of(p) for p in rows]


def rule_of(promotion: Promotion) -> PromotionRule:
    return PromotionRule(
        terms=PromotionTerms(
            id=promotion.id,
            name=promotion.name,
            percent=promotion.discount_percent,
            amount=promotion.discount_amount,
            stackable=promotion.stackable,
        ),
        starts_at=promotion.starts_at,
        ends_at=promotion.ends_at,
        code=promotion.code,
        currency=promotion.currency,
        tier_ids=frozenset(promotion.tier_ids or ()),
        regions=frozenset(promotion.regions or ()),
        partner_ids=frozenset(promotion.partner_ids or ()),
        product_ids=frozenset(promotion.product_ids or ()),
        exhausted=promotion.usage_cap is not None and promotion.usage_count >= promotion.usage_cap,
    )
