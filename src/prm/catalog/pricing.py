"""The pricing function: API.md's order and rounding, pure (no database, no clock).

`compute_price` turns a `PriceRequest` (what the loader in `price_context` found for one
line) into a `PriceBreakdown`:

1. List price. A product prices as one component (itself); a bundle as its items, each
   `quantity` times. A component's *base* is its cheapest-quantity entry (the smallest
   `min_quantity`, which must be reached); `listUnitPrice` is the sum of the bases times
   their quantities, plus the chosen options' deltas.
2. VOLUME: each component's volume break (the entry with the largest `min_quantity` at
   most the line quantity times the component quantity) minus its base.
3. TIER, then PARTNER: a percentage of the running unit price.
4. PROMOTION: every stackable promotion that applies (percentages first, larger first,
   then amounts off, larger first), or the single best non-stackable one, whichever is
   better for the buyer (on a tie, the single promotion).
5. BUNDLE: the bundle's saving, a percentage of the running unit price.

Each step's amount is rounded half-up to the currency's minor unit and never takes the
running price below zero; `total = unitPrice * quantity`. An adjustment's `unit_amount`
is what the step changed the unit price by: negative, or zero steps are left out. So the
net price is never above the list price and never negative, and no step depends on the
order in which entries or promotions were created.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from prm.errors import InvalidInput
from prm.money import round_money

HUNDRED = Decimal(100)
ZERO = Decimal(0)


class AdjustmentKind(enum.StrEnum):
    VOLUME = "VOLUME"
    TIER = "TIER"
    PARTNER = "PARTNER"
    PROMOTION = "PROMOTION"
    BUNDLE = "BUNDLE"


class NoPrice(InvalidInput):
    """A component has no entry the quantity reaches in any book that applies."""

    def __init__(
        self, product_id: uuid.UUID, message: str | None = None, *, field: str = "productId"
    ) -> None:
        super().__init__(message or "has no price for this quantity", field=field)
        self.product_id = product_id


@dataclass(frozen=True)
class VolumeBreak:
    min_quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Component:
    """A priced part of a line: the product itself, or one item of a bundle, with the
    entries of the book chosen for it."""

    product_id: uuid.UUID
    quantity: int
    breaks: tuple[VolumeBreak, ...]


@dataclass(frozen=True)
class OptionPrice:
    choice_id: uuid.UUID
    label: str
    unit_amount: Decimal


@dataclass(frozen=True)
class Discount:
    """A percentage step (TIER, PARTNER, BUNDLE)."""

    label: str
    percent: Decimal


@dataclass(frozen=True)
class PromotionTerms:
    """A promotion's discount: `percent` or `amount` off the unit price (one of them)."""

    id: uuid.UUID
    name: str
    percent: Decimal | None = None
    amount: Decimal | None = None
    stackable: bool = False


@dataclass(frozen=True)
class PriceRequest:
    currency: str
    quantity: int
    components: tuple[Component, ...]
    options: tuple[OptionPrice, ...] = ()
    tier: Discount | None = None
    partner: Discount | None = None
    promotions: tuple[PromotionTerms, ...] = ()
    """The promotions that apply (see `promotion_applies`)."""
    bundle: Discount | None = None


@dataclass(frozen=True)
class Adjustment:
    kind: AdjustmentKind
    label: str
    unit_amount: Decimal
    promotion_id: uuid.UUID | None = None

    def as_json(self) -> dict[str, str]:
        """How a quote line freezes it."""
        frozen = {"kind": self.kind.value, "label": self.label, "unitAmount": str(self.unit_amount)}
        if self.promotion_id is not None:
            frozen["promotionId"] = str(self.promotion_id)
        return frozen


@dataclass(frozen=True)
class PriceBreakdown:
    currency: str
    quantity: int
    list_unit_price: Decimal
    unit_price: Decimal
    total: Decimal
    adjustments: tuple[Adjustment, ...] = field(default_factory=tuple)

    @property
    def promotion_ids(self) -> tuple[uuid.UUID, ...]:
        return tuple(a.promotion_id for a in self.adjustments if a.promotion_id is not None)


def compute_price(request: PriceRequest) -> PriceBreakdown:
    """The net price of `request.quantity` units with its breakdown (module doc)."""
    if request.quantity < 1:
        raise InvalidInput("must be at least 1", field="quantity")
    currency = request.currency
    base_total = ZERO
    volume = ZERO
    for component in request.components:
        base, best = _base_and_break(component, request.quantity * component.quantity)
        base_total += base * component.quantity
        volume += min(best - base, ZERO) * component.quantity
    list_unit = round_money(
        base_total + sum((o.unit_amount for o in request.options), ZERO), currency
    )
    steps = _Steps(currency, list_unit)
    if volume:
        steps.subtract(AdjustmentKind.VOLUME, "Volume break", -volume)
    for kind, discount in (
        (AdjustmentKind.TIER, request.tier),
        (AdjustmentKind.PARTNER, request.partner),
    ):
        if discount is not None:
            steps.percent(kind, discount)
    _apply_promotions(steps, request.promotions)
    if request.bundle is not None:
        steps.percent(AdjustmentKind.BUNDLE, request.bundle)
    return PriceBreakdown(
        currency=currency,
        quantity=request.quantity,
        list_unit_price=list_unit,
        unit_price=steps.running,
        total=round_money(steps.running * request.quantity, currency),
        adjustments=tuple(steps.adjustments),
    )


def _base_and_break(component: Component, quantity: int) -> tuple[Decimal, Decimal]:
    reached = [b for b in component.breaks if b.min_quantity <= quantity]
    if not reached:
        raise NoPrice(component.product_id)
    base = min(component.breaks, key=lambda b: b.min_quantity)
    if base.min_quantity > quantity:
        raise NoPrice(component.product_id)
    best = max(reached, key=lambda b: b.min_quantity)
    return base.unit_price, best.unit_price


class _Steps:
    """The running unit price and the adjustments made to it."""

    def __init__(self, currency: str, start: Decimal) -> None:
        self.currency = currency
        self.running = start
        self.adjustments: list[Adjustment] = []

    def percent_amount(self, percent: Decimal) -> Decimal:
        return min(round_money(self.running * percent / HUNDRED, self.currency), self.running)

    def subtract(
        self,
        kind: AdjustmentKind,
        label: str,
        amount: Decimal,
        promotion_id: uuid.UUID | None = None,
    ) -> None:
        amount = min(round_money(amount, self.currency), self.running)
        if amount <= 0:
            return
        self.running -= amount
        self.adjustments.append(Adjustment(kind, label, -amount, promotion_id))

    def percent(self, kind: AdjustmentKind, discount: Discount) -> None:
        self.subtract(kind, discount.label, self.percent_amount(discount.percent))


def _promotion_amount(running: Decimal, currency: str, promotion: PromotionTerms) -> Decimal:
    if promotion.percent is not None:
        return min(round_money(running * promotion.percent / HUNDRED, currency), running)
    return min(round_money(promotion.amount or ZERO, currency), running)


def _stack_order(promotion: PromotionTerms) -> tuple[int, Decimal, str, str]:
    """Percentages first, larger first, then amounts off, larger first; equal discounts by
    name then id, so the breakdown never depends on creation order."""
    if promotion.percent is not None:
        return (0, -promotion.percent, promotion.name, str(promotion.id))
    return (1, -(promotion.amount or ZERO), promotion.name, str(promotion.id))


def _best_exclusive(
    steps: _Steps, exclusive: Sequence[PromotionTerms]
) -> tuple[Decimal, PromotionTerms] | None:
    """The non-stackable promotion worth most to the buyer at the running price; of those
    worth the same (after rounding and capping at the price), the first by name, then the
    lower id."""
    if not exclusive:
        return None
    worth = [(_promotion_amount(steps.running, steps.currency, p), p) for p in exclusive]
    top = max(amount for amount, _ in worth)
    best = min((p for amount, p in worth if amount == top), key=lambda p: (p.name, str(p.id)))
    return top, best


def _apply_promotions(steps: _Steps, promotions: Sequence[PromotionTerms]) -> None:
    if not promotions:
        return
    stacked: list[tuple[PromotionTerms, Decimal]] = []
    running = steps.running
    for promotion in sorted((p for p in promotions if p.stackable), key=_stack_order):
        amount = _promotion_amount(running, steps.currency, promotion)
        running -= amount
        stacked.append((promotion, amount))
    best = _best_exclusive(steps, [p for p in promotions if not p.stackable])
    if best is not None and best[0] > 0 and best[0] >= steps.running - running:
        steps.subtract(AdjustmentKind.PROMOTION, best[1].name, best[0], best[1].id)
        return
    for promotion, amount in stacked:
        steps.subtract(AdjustmentKind.PROMOTION, promotion.name, amount, promotion.id)


# Which promotions apply --------------------------------------------------------------


@dataclass(frozen=True)
class Buyer:
    """Whom a price is for: a partner (with its tier and territory) or nobody (staff
    pricing for a direct customer)."""

    partner_id: uuid.UUID | None = None
    tier_id: uuid.UUID | None = None
    country: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class PromotionRule:
    """A promotion with its window and targeting, as `promotion_applies` reads it."""

    terms: PromotionTerms
    starts_at: datetime
    ends_at: datetime
    code: str | None = None
    currency: str | None = None
    tier_ids: frozenset[uuid.UUID] = frozenset()
    regions: frozenset[str] = frozenset()
    partner_ids: frozenset[uuid.UUID] = frozenset()
    product_ids: frozenset[uuid.UUID] = frozenset()
    exhausted: bool = False


def promotion_applies(
    rule: PromotionRule,
    *,
    buyer: Buyer,
    product_id: uuid.UUID,
    at: datetime,
    currency: str,
    code: str | None = None,
) -> bool:
    """Whether `rule` discounts `product_id` for `buyer` at `at` (API.md: empty target
    lists mean no restriction; regions match the partner's country or region code,
    case-insensitively; a coded promotion needs its code; an amount off needs the same
    currency; a used-up one applies no more)."""
    return _applies_to_buyer(rule, buyer, at, currency, code) and _covers(rule, product_id)


def _applies_to_buyer(
    rule: PromotionRule, buyer: Buyer, at: datetime, currency: str, code: str | None
) -> bool:
    if rule.exhausted or not (rule.starts_at <= at < rule.ends_at):
        return False
    if rule.currency is not None and rule.currency != currency:
        return False
    if rule.code is not None and (code is None or code.casefold() != rule.code.casefold()):
        return False
    if rule.partner_ids and buyer.partner_id not in rule.partner_ids:
        return False
    if rule.tier_ids and buyer.tier_id not in rule.tier_ids:
        return False
    if rule.regions:
        places = {p.casefold() for p in (buyer.country, buyer.region) if p}
        if places.isdisjoint(r.casefold() for r in rule.regions):
            return False
    return True


def _covers(rule: PromotionRule, product_id: uuid.UUID) -> bool:
    return not rule.product_ids or product_id in rule.product_ids


class PromotionMatcher:
    """The promotions that apply to one buyer at one time, per product: the buyer's side
    of `promotion_applies` is judged once, so a quote's lines only check products."""

    def __init__(
        self,
        rules: Iterable[PromotionRule],
        *,
        buyer: Buyer,
        at: datetime,
        currency: str,
        code: str | None = None,
    ) -> None:
        self._rules = [r for r in rules if _applies_to_buyer(r, buyer, at, currency, code)]

    def terms_for(self, product_id: uuid.UUID) -> tuple[PromotionTerms, ...]:
        return tuple(rule.terms for rule in self._rules if _covers(rule, product_id))


def applicable_terms(
    rules: Iterable[PromotionRule],
    *,
    buyer: Buyer,
    product_id: uuid.UUID,
    at: datetime,
    currency: str,
    code: str | None = None,
) -> tuple[PromotionTerms, ...]:
    matcher = PromotionMatcher(rules, buyer=buyer, at=at, currency=currency, code=code)
    return matcher.terms_for(product_id)
