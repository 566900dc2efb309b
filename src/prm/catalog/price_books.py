"""Price books: list prices in one currency for everyone (the default book), a partner
tier or one partner, with volume-break entries.

What pricing (`price_context`) relies on, enforced here:

- Books of the same scope, target and currency that are active never have overlapping
  validity windows (`[valid_from, valid_until)`, a missing end unbounded), so at any
  moment at most one of them applies. Creating or changing a book takes a
  transaction-level advisory lock on (tenant, scope, target, currency) before checking,
  so two requests racing for the same window cannot both pass: the second waits for the
  first to commit, then sees its book.
- Within a book and product, a unit price never rises as the volume break rises, and no
  break is given twice.

`set_price_book_entries` replaces a book's entries in two statements (a DELETE and an
INSERT … SELECT from `unnest` of one array per column) whatever their number, after
validating every entry; the book row is locked first, so concurrent replacements of one
book queue instead of colliding.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from typing import TypedDict

from sqlalchemy import (
    ARRAY,
    Integer,
    Numeric,
    Select,
    Uuid,
    and_,
    any_,
    bindparam,
    delete,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.catalog.models import PriceBook, PriceBookEntry, PriceBookScope, Product
from prm.catalog.price_context import MAX_QUANTITY
from prm.catalog.visibility import (
    is_staff,
    price_book_visible,
    readable_price_books,
    require_catalog_manager,
)
from prm.crm.fields import required_text
from prm.db.ids import new_id
from prm.db.locks import LockSpace, lock_keys
from prm.errors import Conflict, DomainError, ErrorCode, InvalidInput, NotFound
from prm.money import Money, normalise_currency
from prm.partners.models import Partner, PartnerTier

MAX_ENTRIES = 50_000
"""Entries one `set_price_book_entries` call may carry (a book holds what its last call set)."""


@dataclass(frozen=True)
class PriceBookCriteria:
    """What `priceBooks` may be narrowed by; every field optional, all combine."""

    currency: str | None = None
    scope: PriceBookScope | None = None
    tier_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None
    active: bool | None = None


def filter_price_books(
    statement: Select[PriceBook], criteria: PriceBookCriteria
) -> Select[PriceBook]:
    if criteria.currency:
        statement = statement.where(PriceBook.currency == criteria.currency.strip().upper())
    if criteria.scope is not None:
        statement = statement.where(PriceBook.scope == criteria.scope)
    if criteria.tier_id is not None:
        statement = statement.where(PriceBook.tier_id == criteria.tier_id)
    if criteria.partner_id is not None:
        statement = statement.where(PriceBook.partner_id == criteria.partner_id)
    if criteria.active is not None:
        statement = statement.where(PriceBook.active.is_(criteria.active))
    return statement


def readable_price_book_entries(principal: Principal) -> Select[PriceBookEntry]:
    """Entries of the books the principal may see."""
    statement = select(PriceBookEntry).where(PriceBookEntry.tenant_id == principal.tenant_id)
    if is_staff(principal):
        return statement
    visible = select(PriceBook.id).where(
        PriceBook.tenant_id == principal.tenant_id, price_book_visible(principal)
    )
    return statement.where(PriceBookEntry.price_book_id.in_(visible))


async def get_price_book(
    session: AsyncSession,
    principal: Principal,
    book_id: uuid.UUID,
    *,
    field: str = "id",
    for_update: bool = False,
) -> PriceBook:
    """A book the principal may see, or `NOT_FOUND` on `field`."""
    statement = readable_price_books(principal).where(PriceBook.id == book_id)
    if for_update:
        statement = statement.with_for_update()
    book = await session.scalar(statement)
    if book is None:
        raise NotFound("no such price book", field=field)
    return book


# Creating and changing books ----------------------------------------------------------


async def create_price_book(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    currency: str,
    is_default: bool | None = None,
    tier_id: uuid.UUID | None = None,
    partner_id: uuid.UUID | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    active: bool | None = None,
) -> PriceBook:
    """A new, empty book: the default (`is_default`), a tier's or a partner's (exactly
    one), refused with `CONFLICT` if, active, it would overlap another active book of the
    same scope, target and currency."""
    require_catalog_manager(principal)
    clean_name = required_text(name, field="name")
    code = normalise_currency(currency)
    scope = _scope(is_default, tier_id, partner_id)
    if tier_id is not None:
        await _require_row(session, principal, PartnerTier, tier_id, "no such tier", "tierId")
    if partner_id is not None:
        await _require_row(session, principal, Partner, partner_id, "no such partner", "partnerId")
    start, end = _window(valid_from, valid_until)
    book = PriceBook(
        tenant_id=principal.tenant_id,
        name=clean_name,
        currency=code,
        scope=scope,
        tier_id=tier_id,
        partner_id=partner_id,
        active=True if active is None else active,
        valid_from=start,
        valid_until=end,
        entry_count=0,
    )
    if book.active:
        await _check_no_overlap(session, book)
    session.add(book)
    await session.flush()
    return book


class PriceBookChanges(TypedDict, total=False):
    """What `update_price_book` changes: absent keys stay; a null window end means
    unbounded."""

    name: str | None
    valid_from: datetime | None
    valid_until: datetime | None
    active: bool | None


async def update_price_book(
    session: AsyncSession, principal: Principal, book_id: uuid.UUID, changes: PriceBookChanges
) -> PriceBook:
    """Apply `changes` after validating all of them; the overlap rule is checked again
    when the book ends up active with a window or state that changed."""
    require_catalog_manager(principal)
    book = await get_price_book(session, principal, book_id, for_update=True)
    if "name" in changes:
        book.name = required_text(changes["name"] or "", field="name")
    start = changes.get("valid_from", book.valid_from)
    end = changes.get("valid_until", book.valid_until)
    start, end = _window(start, end)
    if "active" in changes:
        if changes["active"] is None:
            raise InvalidInput("must not be null", field="active")
        active = changes["active"]
    else:
        active = book.active
    reopened = active and not book.active
    moved = (start, end) != (book.valid_from, book.valid_until)
    book.valid_from, book.valid_until, book.active = start, end, active
    if active and (reopened or moved):
        await _check_no_overlap(session, book)
    await session.flush()
    return book


def _scope(
    is_default: bool | None, tier_id: uuid.UUID | None, partner_id: uuid.UUID | None
) -> PriceBookScope:
    given = [
        name
        for name, value in (
            ("isDefault", is_default is True),
            ("tierId", tier_id is not None),
            ("partnerId", partner_id is not None),
        )
        if value
    ]
    if not given:
        raise InvalidInput(
            "a price book is the default (isDefault: true), a tier's (tierId) or a "
            "partner's (partnerId)",
            field="isDefault",
        )
    if len(given) > 1:
        raise InvalidInput("give only one of isDefault: true, tierId and partnerId", field=given[1])
    if tier_id is not None:
        return PriceBookScope.TIER
    return PriceBookScope.PARTNER if partner_id is not None else PriceBookScope.DEFAULT


def _moment(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput("must include a time zone", field=field)
    return value.astimezone(UTC)


def _window(
    valid_from: datetime | None, valid_until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    start = _moment(valid_from, "validFrom")
    end = _moment(valid_until, "validUntil")
    if start is not None and end is not None and end <= start:
        raise InvalidInput("must be later than validFrom", field="validUntil")
    return start, end


async def _require_row(
    session: AsyncSession,
    principal: Principal,
    model: type[PartnerTier] | type[Partner],
    pk: uuid.UUID,
    message: str,
    field: str,
) -> None:
    found = await session.scalar(
        select(model.id).where(model.tenant_id == principal.tenant_id, model.id == pk)
    )
    if found is None:
        raise NotFound(message, field=field)


async def _check_no_overlap(session: AsyncSession, book: PriceBook) -> None:
    """`CONFLICT` if another active book of the same scope, target and currency is valid
    at some moment of `book`'s window. Serialised per (tenant, scope, target, currency)
    for the rest of the transaction, so the check stays true until commit."""
    target = book.tier_id or book.partner_id
    key = f"{book.tenant_id}:{book.scope.value}:{target or '-'}:{book.currency}"
    await lock_keys(session, LockSpace.PRICE_BOOK_WINDOW, [key])
    conditions = [
        PriceBook.tenant_id == book.tenant_id,
        PriceBook.scope == book.scope,
        PriceBook.currency == book.currency,
        PriceBook.active.is_(True),
        PriceBook.tier_id == book.tier_id if book.tier_id else PriceBook.tier_id.is_(None),
        PriceBook.partner_id == book.partner_id
        if book.partner_id
        else PriceBook.partner_id.is_(None),
    ]
    if book.id is not None:
        conditions.append(PriceBook.id != book.id)
    # Half-open windows [from, until) overlap when each starts before the other ends.
    if book.valid_until is not None:
        conditions.append(
            or_(PriceBook.valid_from.is_(None), PriceBook.valid_from < book.valid_until)
        )
    if book.valid_from is not None:
        conditions.append(
            or_(PriceBook.valid_until.is_(None), PriceBook.valid_until > book.valid_from)
        )
    other = await session.scalar(
        select(PriceBook).where(and_(*conditions)).order_by(PriceBook.id).limit(1)
    )
    if other is not None:
        raise Conflict(
            f"its validity overlaps that of the active price book {other.name!r} "
            f"({_describe_window(other)}) of the same scope and currency",
            field="validFrom",
        )


def _describe_window(book: PriceBook) -> str:
    start = book.valid_from.isoformat() if book.valid_from else "always"
    end = book.valid_until.isoformat() if book.valid_until else "no end"
    return f"from {start} to {end}"


# Entries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryInput:
    """One entry as given. `product_id` None: the id named no product (`NOT_FOUND`)."""

    product_id: uuid.UUID | None
    unit_price: Decimal
    min_quantity: int | None = None


@dataclass(frozen=True)
class _Entry:
    index: int
    product_id: uuid.UUID
    min_quantity: int
    unit_price: Decimal


_INSERT_ENTRIES = text(
    """
    INSERT INTO price_book_entries
        (tenant_id, id, price_book_id, product_id, min_quantity, unit_price)
    SELECT :tenant_id, e.id, :book_id, e.product_id, e.min_quantity, e.unit_price
    FROM unnest(:ids, :product_ids, :min_quantities, :unit_prices)
        AS e(id, product_id, min_quantity, unit_price)
    """
).bindparams(
    bindparam("tenant_id", type_=Uuid()),
    bindparam("book_id", type_=Uuid()),
    bindparam("ids", type_=ARRAY(Uuid())),
    bindparam("product_ids", type_=ARRAY(Uuid())),
    bindparam("min_quantities", type_=ARRAY(Integer())),
    bindparam("unit_prices", type_=ARRAY(Numeric(18, 4))),
)


async def set_price_book_entries(
    session: AsyncSession,
    principal: Principal,
    book_id: uuid.UUID,
    entries: Sequence[EntryInput],
) -> PriceBook:
    """Replace the book's entries with `entries` (empty: clear it), all validated first:
    prices in the book's currency, breaks of at least 1 and never twice for one product,
    prices never rising with the break, products of the tenant."""
    require_catalog_manager(principal)
    book = await get_price_book(session, principal, book_id, field="priceBookId", for_update=True)
    if len(entries) > MAX_ENTRIES:
        raise DomainError(
            f"at most {MAX_ENTRIES} entries at once", field="entries", code=ErrorCode.LIMIT_EXCEEDED
        )
    clean = [_clean_entry(index, entry, book.currency) for index, entry in enumerate(entries)]
    _check_breaks(clean)
    await _check_products(session, principal, clean)
    await session.execute(
        delete(PriceBookEntry).where(
            PriceBookEntry.tenant_id == book.tenant_id, PriceBookEntry.price_book_id == book.id
        )
    )
    if clean:
        # Ids follow (product, break) order, so listing entries by product then id shows
        # each product's breaks in ascending order.
        ordered = sorted(clean, key=lambda e: (e.product_id, e.min_quantity))
        await session.execute(
            _INSERT_ENTRIES,
            {
                "tenant_id": book.tenant_id,
                "book_id": book.id,
                "ids": [new_id() for _ in ordered],
                "product_ids": [e.product_id for e in ordered],
                "min_quantities": [e.min_quantity for e in ordered],
                "unit_prices": [e.unit_price for e in ordered],
            },
        )
    book.entry_count = len(clean)
    book.updated_at = datetime.now(UTC)
    await session.flush()
    return book


def _clean_entry(index: int, entry: EntryInput, currency: str) -> _Entry:
    field = f"entries.{index}"
    if entry.product_id is None:
        raise NotFound("no such product", field=f"{field}.productId")
    try:
        price = Money.parse(entry.unit_price, currency, field=f"{field}.unitPrice").amount
    except InvalidInput as error:  # the input is a bare Decimal: no .amount sub-field
        raise InvalidInput(error.message, field=f"{field}.unitPrice") from error
    min_quantity = 1 if entry.min_quantity is None else entry.min_quantity
    if min_quantity < 1:
        raise InvalidInput("must be at least 1", field=f"{field}.minQuantity")
    if min_quantity > MAX_QUANTITY:
        raise InvalidInput(f"must be at most {MAX_QUANTITY}", field=f"{field}.minQuantity")
    return _Entry(index, entry.product_id, min_quantity, price)


def _check_breaks(entries: list[_Entry]) -> None:
    """No (product, break) twice; per product, a higher break never costs more per unit.
    The entry named is the later one given (duplicates) or the higher break (prices)."""
    by_product: dict[uuid.UUID, list[_Entry]] = defaultdict(list)
    seen: set[tuple[uuid.UUID, int]] = set()
    for entry in entries:
        key = (entry.product_id, entry.min_quantity)
        if key in seen:
            raise InvalidInput(
                f"overlapping volume breaks: the product is priced from {entry.min_quantity} "
                "units twice",
                field=f"entries.{entry.index}.minQuantity",
            )
        seen.add(key)
        by_product[entry.product_id].append(entry)
    problems: list[tuple[int, _Entry, _Entry]] = []
    for breaks in by_product.values():
        breaks.sort(key=lambda e: e.min_quantity)
        for lower, higher in pairwise(breaks):
            if higher.unit_price > lower.unit_price:
                problems.append((higher.index, lower, higher))
    if problems:
        _, lower, higher = min(problems, key=lambda p: p[0])
        raise InvalidInput(
            f"costs more from {higher.min_quantity} units ({higher.unit_price}) than from "
            f"{lower.min_quantity} ({lower.unit_price}): volume-break prices must not rise",
            field=f"entries.{higher.index}.unitPrice",
        )


async def _check_products(session: AsyncSession, principal: Principal, clean: list[_Entry]) -> None:
    """Every product is the tenant's: one statement for all of them."""
    ids = list({entry.product_id for entry in clean})
    found: set[uuid.UUID] = set()
    if ids:
        found = set(
            await session.scalars(
                select(Product.id).where(
                    Product.tenant_id == principal.tenant_id,
                    Product.id == any_(bindparam("product_ids", ids, type_=ARRAY(Uuid()))),
                )
            )
        )
    for entry in clean:
        if entry.product_id not in found:
            raise NotFound("no such product", field=f"entries.{entry.index}.productId")
