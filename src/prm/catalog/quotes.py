"""Quotes: priced offers to a customer, numbered per tenant, with frozen lines.

- Lifecycle: DRAFT → SENT → ACCEPTED, and DRAFT or SENT → EXPIRED; nothing else
  (`INVALID_TRANSITION`). Only a DRAFT changes. A quote past its `valid_until` day can no
  longer be sent or accepted (`EXPIRED`).
- Pricing: every line is priced by `price_context.price_lines` at the moment the quote is
  created or re-priced, and the whole breakdown is frozen onto the lines (SKU, name,
  options, list and net prices, adjustments) and the totals onto the quote, so later
  changes to products, price books or promotions never alter it. Re-pricing a DRAFT (new
  lines, promotion code or location) prices all of it again at the new moment.
- Cost: a quote is a fixed number of SQL statements whatever its number of lines
  (pricing's seven or eight; one each for the account, the opportunity, the bundles'
  items and stock; one to count promotion uses, one for the number, one for the quote
  and one for all its lines).
- Stock: a line is flagged `INSUFFICIENT_STOCK` (never refused) when the quote as a whole
  needs more of a stock-tracked product than the quote's partner can count on at the
  quote's location (or over all locations): demand adds up across lines, and a bundle
  line needs each of its items, line quantity times item quantity.
- Promotions: a quote uses each promotion that discounts any of its lines once; the uses
  are counted atomically against the usage caps (`promotion_usage`) and recorded in
  `promotion_ids`, and given back when the quote is re-priced.
- Numbers: taken last, just before the quote is inserted (`quote_numbers`), so failed
  quotes consume none and the counter's lock is held only briefly.
"""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.catalog.models import (
    MAX_LOCATION,
    BundleItem,
    Quote,
    QuoteLine,
    QuoteStatus,
)
from prm.catalog.price_context import LineRequest, PricingResult, price_lines
from prm.catalog.promotion_usage import consume_uses, release_uses
from prm.catalog.quote_numbers import next_quote_number
from prm.catalog.stock import available_quantities
from prm.catalog.visibility import is_staff, own_partner, pricing_partner, readable_quotes
from prm.crm.accounts import get_account
from prm.crm.models import Opportunity
from prm.crm.opportunities import get_opportunity, update_opportunity
from prm.db.ids import new_id
from prm.errors import DomainError, ErrorCode, Forbidden, InvalidInput, NotFound
from prm.money import Money, round_money

MAX_NOTES = 10_000
MAX_CODE = 64
ZERO = Decimal(0)


class StockWarning(enum.StrEnum):
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"


class InvalidTransition(DomainError):
    code = ErrorCode.INVALID_TRANSITION


class QuoteExpired(DomainError):
    code = ErrorCode.EXPIRED


@dataclass(frozen=True)
class QuoteLineSpec:
    """A line as asked for: a product, a quantity and option choices."""

    product_id: uuid.UUID
    quantity: int
    option_ids: tuple[uuid.UUID, ...] = ()


class QuoteChanges(TypedDict, total=False):
    """What `update_quote` changes: absent keys stay as they are; None clears."""

    account_id: uuid.UUID | None
    opportunity_id: uuid.UUID | None
    lines: Sequence[QuoteLineSpec]
    valid_until: date | None
    promotion_code: str | None
    location: str | None
    notes: str | None


@dataclass(frozen=True)
class SavedQuote:
    quote: Quote
    lines: list[QuoteLine] | None = None
    """The lines written, in position order, when the quote was (re)priced."""


def require_quoter(principal: Principal) -> None:
    """Staff and partner users quote; nobody else (API clients hold the same roles)."""
    if not is_staff(principal) and own_partner(principal) is None:
        raise Forbidden("only staff and partner users work with quotes")


async def get_quote(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    *,
    field: str = "id",
    for_update: bool = False,
) -> Quote:
    """A quote the principal may see, or `NOT_FOUND` on `field`."""
    statement = readable_quotes(principal).where(Quote.id == quote_id)
    if for_update:
        statement = statement.with_for_update()
    quote = await session.scalar(statement)
    if quote is None:
        raise NotFound("no such quote", field=field)
    return quote


async def create_quote(
    session: AsyncSession,
    principal: Principal,
    *,
    lines: Sequence[QuoteLineSpec],
    partner_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    opportunity_id: uuid.UUID | None = None,
    currency: str | None = None,
    valid_until: date | None = None,
    promotion_code: str | None = None,
    location: str | None = None,
    notes: str | None = None,
) -> SavedQuote:
    """A DRAFT quote priced now, for `partner_id` (a partner user's own partner; staff:
    any or none) and optionally an account and one of its opportunities. Without an
    account, the opportunity's is used."""
    now = datetime.now(UTC)
    partner = pricing_partner(principal, partner_id)
    _check_valid_until(valid_until, now)
    account_id = await _check_customer(
        session,
        principal,
        account_id=account_id,
        opportunity_id=opportunity_id,
        new_account=True,
        new_opportunity=True,
    )
    code = _code(promotion_code)
    where = _location(location)
    quote_notes = _notes(notes)
    priced = await _price(
        session,
        principal,
        lines,
        partner_id=partner,
        at=now,
        currency=currency,
        code=code,
        location=where,
    )
    number = await next_quote_number(session, principal.tenant_id)
    quote = Quote(
        id=new_id(),
        tenant_id=principal.tenant_id,
        number=number,
        status=QuoteStatus.DRAFT,
        partner_id=priced.result.partner.id if priced.result.partner else None,
        account_id=account_id,
        opportunity_id=opportunity_id,
        created_by=principal.user_id,
        currency=priced.result.currency,
        valid_until=valid_until,
        location=where,
        promotion_code=code,
        notes=quote_notes,
    )
    priced.freeze_totals(quote, now)
    session.add(quote)
    await session.flush()
    written = await _insert_lines(session, quote, priced)
    # Last: the promotions' rows stay locked until commit, so concurrent quotes sharing a
    # promotion (a tenant-wide sale) queue only for the commit, not for the whole quote.
    await consume_uses(session, principal.tenant_id, priced.promotion_ids)
    return SavedQuote(quote, written)


async def update_quote(
    session: AsyncSession, principal: Principal, quote_id: uuid.UUID, changes: QuoteChanges
) -> SavedQuote:
    """Change a DRAFT. New lines, a new promotion code or a new location re-price the
    whole quote now (its promotion uses are given back, then counted again)."""
    require_quoter(principal)
    now = datetime.now(UTC)
    quote = await get_quote(session, principal, quote_id, for_update=True)
    if quote.status != QuoteStatus.DRAFT:
        raise InvalidTransition(
            f"a {quote.status.value} quote cannot be changed, only a DRAFT", field="status"
        )
    if "valid_until" in changes:
        _check_valid_until(changes["valid_until"], now)
        quote.valid_until = changes["valid_until"]
    if "account_id" in changes or "opportunity_id" in changes:
        account_id = changes.get("account_id", quote.account_id)
        opportunity_id = changes.get("opportunity_id", quote.opportunity_id)
        quote.account_id = await _check_customer(
            session,
            principal,
            account_id=account_id,
            opportunity_id=opportunity_id,
            new_account="account_id" in changes,
            new_opportunity="opportunity_id" in changes,
        )
        quote.opportunity_id = opportunity_id
    if "notes" in changes:
        quote.notes = _notes(changes["notes"])
    if "promotion_code" in changes:
        quote.promotion_code = _code(changes["promotion_code"])
    if "location" in changes:
        quote.location = _location(changes["location"])
    written: list[QuoteLine] | None = None
    if {"lines", "promotion_code", "location"} & changes.keys():
        specs = changes["lines"] if "lines" in changes else await _current_lines(session, quote)
        await release_uses(session, principal.tenant_id, quote.promotion_ids or ())
        priced = await _price(
            session,
            principal,
            specs,
            partner_id=pricing_partner(principal, quote.partner_id),
            at=now,
            currency=quote.currency,
            code=quote.promotion_code,
            location=quote.location,
        )
        await consume_uses(session, principal.tenant_id, priced.promotion_ids)
        await session.execute(
            delete(QuoteLine).where(
                QuoteLine.tenant_id == principal.tenant_id, QuoteLine.quote_id == quote.id
            )
        )
        priced.freeze_totals(quote, now)
        written = await _insert_lines(session, quote, priced)
    quote.updated_at = now  # not re-read after the flush
    await session.flush()
    return SavedQuote(quote, written)


async def send_quote(session: AsyncSession, principal: Principal, quote_id: uuid.UUID) -> Quote:
    """DRAFT → SENT: the offer goes to the customer, frozen as it is."""
    now = datetime.now(UTC)
    quote = await _transitioning(session, principal, quote_id, QuoteStatus.SENT)
    _check_current(quote, now)
    quote.status, quote.sent_at, quote.updated_at = QuoteStatus.SENT, now, now
    await session.flush()
    return quote


async def accept_quote(
    session: AsyncSession,
    principal: Principal,
    quote_id: uuid.UUID,
    *,
    set_opportunity_amount: bool = False,
) -> Quote:
    """SENT → ACCEPTED while valid. With `set_opportunity_amount`, the quote's opportunity
    takes the quote's total as its amount (and currency)."""
    now = datetime.now(UTC)
    quote = await _transitioning(session, principal, quote_id, QuoteStatus.ACCEPTED)
    _check_current(quote, now)
    if set_opportunity_amount:
        if quote.opportunity_id is None:
            raise InvalidInput("the quote has no opportunity", field="setOpportunityAmount")
        amount = Money(round_money(quote.total, quote.currency), quote.currency)
        try:
            await update_opportunity(session, principal, quote.opportunity_id, amount=amount)
        except NotFound as error:
            raise NotFound("no such opportunity", field="opportunityId") from error
    quote.status, quote.accepted_at, quote.updated_at = QuoteStatus.ACCEPTED, now, now
    await session.flush()
    return quote


async def expire_quote(session: AsyncSession, principal: Principal, quote_id: uuid.UUID) -> Quote:
    """DRAFT or SENT → EXPIRED: the offer no longer stands."""
    now = datetime.now(UTC)
    quote = await _transitioning(session, principal, quote_id, QuoteStatus.EXPIRED)
    quote.status, quote.expired_at, quote.updated_at = QuoteStatus.EXPIRED, now, now
    await session.flush()
    return quote


TRANSITIONS: dict[QuoteStatus, frozenset[QuoteStatus]] = {
    QuoteStatus.SENT: frozenset({QuoteStatus.DRAFT}),
    QuoteStatus.ACCEPTED: frozenset({QuoteStatus.SENT}),
    QuoteStatus.EXPIRED: frozenset({QuoteStatus.DRAFT, QuoteStatus.SENT}),
}
"""For each target status, the statuses a quote may reach it from."""


async def _transitioning(
    session: AsyncSession, principal: Principal, quote_id: uuid.UUID, target: QuoteStatus
) -> Quote:
    require_quoter(principal)
    quote = await get_quote(session, principal, quote_id, for_update=True)
    if quote.status not in TRANSITIONS[target]:
        raise InvalidTransition(
            f"{quote.status.value} to {target.value} is not allowed", field="status"
        )
    return quote


def _check_current(quote: Quote, now: datetime) -> None:
    if quote.valid_until is not None and quote.valid_until < now.date():
        raise QuoteExpired(
            f"the quote was valid until {quote.valid_until.isoformat()}", field="validUntil"
        )


def _check_valid_until(valid_until: date | None, now: datetime) -> None:
    if valid_until is not None and valid_until < now.date():
        raise InvalidInput("must not be in the past", field="validUntil")


def _code(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    code = value.strip()
    if len(code) > MAX_CODE:
        raise InvalidInput(f"must be at most {MAX_CODE} characters", field="promotionCode")
    return code


def _location(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    location = value.strip()
    if len(location) > MAX_LOCATION:
        raise InvalidInput(f"must be at most {MAX_LOCATION} characters", field="location")
    return location


def _notes(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    notes = value.strip()
    if len(notes) > MAX_NOTES:
        raise InvalidInput(f"must be at most {MAX_NOTES} characters", field="notes")
    return notes


async def _check_customer(
    session: AsyncSession,
    principal: Principal,
    *,
    account_id: uuid.UUID | None,
    opportunity_id: uuid.UUID | None,
    new_account: bool,
    new_opportunity: bool,
) -> uuid.UUID | None:
    """Check newly given references (visible to the principal, else `NOT_FOUND`) and that
    the opportunity is the account's (`INVALID`); the account id to store, which is the
    opportunity's when a new opportunity comes without an account."""
    if new_account and account_id is not None:
        await get_account(session, principal, account_id, field="accountId")
    if opportunity_id is None:
        return account_id
    if new_opportunity:
        opportunity = await get_opportunity(
            session, principal, opportunity_id, field="opportunityId"
        )
        opportunity_account: uuid.UUID | None = opportunity.account_id
    else:
        opportunity_account = await session.scalar(
            select(Opportunity.account_id).where(
                Opportunity.tenant_id == principal.tenant_id, Opportunity.id == opportunity_id
            )
        )
    if account_id is None and new_opportunity:
        return opportunity_account
    if opportunity_account is not None and opportunity_account != account_id:
        raise InvalidInput(
            "the opportunity belongs to another account",
            field="opportunityId" if new_opportunity else "accountId",
        )
    return account_id


@dataclass(frozen=True)
class _Priced:
    result: PricingResult
    warnings: list[StockWarning | None]
    promotion_ids: list[uuid.UUID]

    def freeze_totals(self, quote: Quote, at: datetime) -> None:
        lines = self.result.lines
        subtotal = sum((p.breakdown.list_unit_price * p.breakdown.quantity for p in lines), ZERO)
        total = sum((p.breakdown.total for p in lines), ZERO)
        quote.subtotal = subtotal
        quote.total = total
        quote.discount_total = subtotal - total
        quote.line_count = len(lines)
        quote.warning_count = sum(1 for warning in self.warnings if warning is not None)
        quote.promotion_ids = list(self.promotion_ids)
        quote.priced_at = at


async def _price(
    session: AsyncSession,
    principal: Principal,
    specs: Sequence[QuoteLineSpec],
    *,
    partner_id: uuid.UUID | None,
    at: datetime,
    currency: str | None,
    code: str | None,
    location: str | None,
) -> _Priced:
    requests = [
        LineRequest(spec.product_id, spec.quantity, tuple(spec.option_ids), field=f"lines.{n}.")
        for n, spec in enumerate(specs)
    ]
    result = await price_lines(
        session,
        principal,
        requests,
        partner_id=partner_id,
        at=at,
        currency=currency,
        promotion_code=code,
    )
    warnings = await _stock_warnings(session, principal.tenant_id, result, location)
    used = sorted({pid for line in result.lines for pid in line.breakdown.promotion_ids})
    return _Priced(result, warnings, used)


async def _stock_warnings(
    session: AsyncSession, tenant_id: uuid.UUID, result: PricingResult, location: str | None
) -> list[StockWarning | None]:
    """Per line, whether the quote needs more of a product the line uses than the buyer
    can count on (module docstring); one statement for bundles' items, one for stock."""
    bundles = [line.product.id for line in result.lines if line.product.is_bundle]
    items: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = defaultdict(list)
    if bundles:
        rows = await session.execute(
            select(BundleItem.bundle_id, BundleItem.item_id, BundleItem.quantity).where(
                BundleItem.tenant_id == tenant_id, BundleItem.bundle_id.in_(set(bundles))
            )
        )
        for bundle_id, item_id, quantity in rows:
            items[bundle_id].append((item_id, quantity))
    needs: list[list[tuple[uuid.UUID, int]]] = []
    demand: dict[uuid.UUID, int] = defaultdict(int)
    for line in result.lines:
        parts = items[line.product.id] if line.product.is_bundle else [(line.product.id, 1)]
        needed = [(product_id, line.request.quantity * each) for product_id, each in parts]
        for product_id, units in needed:
            demand[product_id] += units
        needs.append(needed)
    available = await available_quantities(
        session,
        tenant_id,
        list(demand),
        partner_id=result.partner.id if result.partner else None,
        location=location,
    )
    short = {pid for pid, units in demand.items() if pid in available and units > available[pid]}
    return [
        StockWarning.INSUFFICIENT_STOCK if any(pid in short for pid, _ in needed) else None
        for needed in needs
    ]


async def _insert_lines(session: AsyncSession, quote: Quote, priced: _Priced) -> list[QuoteLine]:
    """Every line in one multi-row INSERT, positions from 1."""
    rows: list[dict[str, Any]] = [
        {
            "tenant_id": quote.tenant_id,
            "id": new_id(),
            "quote_id": quote.id,
            "position": position,
            "product_id": line.product.id,
            "sku": line.product.sku,
            "product_name": line.product.name,
            "quantity": line.breakdown.quantity,
            "options": [option.as_json() for option in line.options],
            "list_unit_price": line.breakdown.list_unit_price,
            "unit_price": line.breakdown.unit_price,
            "total": line.breakdown.total,
            "adjustments": [adjustment.as_json() for adjustment in line.breakdown.adjustments],
            "stock_warning": warning.value if warning is not None else None,
        }
        for position, (line, warning) in enumerate(
            zip(priced.result.lines, priced.warnings, strict=True), start=1
        )
    ]
    written = await session.scalars(insert(QuoteLine).values(rows).returning(QuoteLine))
    return sorted(written.all(), key=lambda line: line.position)


async def _current_lines(session: AsyncSession, quote: Quote) -> list[QuoteLineSpec]:
    """The quote's lines as asked for (product, quantity, options), to price them again."""
    rows = await session.scalars(
        select(QuoteLine)
        .where(QuoteLine.tenant_id == quote.tenant_id, QuoteLine.quote_id == quote.id)
        .order_by(QuoteLine.position)
    )
    return [
        QuoteLineSpec(
            row.product_id,
            row.quantity,
            tuple(uuid.UUID(option["id"]) for option in row.options or ()),
        )
        for row in rows
    ]
