"""Price books and their entries as the API shows them. A book's `entries` are paged in
one statement for every book of a page (`crm.loaders.nested_page`); an entry's prices
read the currency off its book, which the book primes into the request's loaders."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry

from prm.catalog.models import PriceBook, PriceBookEntry, PriceBookScope
from prm.catalog.price_books import readable_price_book_entries
from prm.catalog.visibility import readable_price_books
from prm.graphql.context import Context, Info
from prm.graphql.crm.loaders import READABLE, Relation, nested_page
from prm.graphql.pagination import Connection, Ordering
from prm.graphql.partners.types import PartnerTierType, PartnerType, load_partner, load_tier
from prm.graphql.price_books.inputs import PriceBookEntryFilter, PriceBookScopeEnum, narrow_entries
from prm.graphql.products.types import ProductType, load_product
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType
from prm.money import Money, round_money

BY_PRODUCT = Ordering.by(PriceBookEntry.product_id)
"""Entries grouped by product; within one, by id, which follows the break (entries are
written in (product, break) order)."""


@strawberry.type(
    name="PriceBookEntry",
    description="A product's unit price in a book from `minQuantity` units up.",
)
class PriceBookEntryType(Node):
    min_quantity: int
    book_pk: strawberry.Private[uuid.UUID]
    product_pk: strawberry.Private[uuid.UUID]
    stored_price: strawberry.Private[Decimal]

    @strawberry.field(description="Null if the caller may not see the product (retired).")
    async def product(self, info: Info) -> ProductType | None:
        return await load_product(info.context, self.product_pk)

    @strawberry.field(description="In the book's currency, to its minor unit.")
    async def unit_price(self, info: Info) -> Decimal:
        return round_money(self.stored_price, await self._currency(info))

    @strawberry.field(description="The unit price with its currency.")
    async def price(self, info: Info) -> MoneyType:
        return MoneyType.of(Money(self.stored_price, await self._currency(info)))

    async def _currency(self, info: Info) -> str:
        book = await info.context.loaders.by_id(PriceBook).load(self.book_pk)
        assert book is not None  # the entry was read through its visible book
        return book.currency

    @classmethod
    def from_model(cls, row: PriceBookEntry) -> PriceBookEntryType:
        return cls.from_row(
            row,
            book_pk=row.price_book_id,
            product_pk=row.product_id,
            stored_price=row.unit_price,
        )


READABLE.setdefault(PriceBookEntry, readable_price_book_entries)
BOOK_ENTRIES = Relation(
    "priceBook.entries",
    PriceBookEntry,
    PriceBookEntry.price_book_id,
    PriceBookEntryType.from_model,
    narrow_entries,
)


@strawberry.type(
    name="PriceBook",
    description="List prices in one currency: the default book, a tier's or a partner's. "
    "Active books of one scope, target and currency never overlap in time.",
)
class PriceBookType(Node):
    name: str
    currency: str
    scope: PriceBookScopeEnum  # type: ignore[valid-type]
    active: bool
    valid_from: datetime | None = strawberry.field(description="Null: since always.")
    valid_until: datetime | None = strawberry.field(description="Exclusive; null: no end.")
    entry_count: int
    created_at: datetime
    updated_at: datetime
    tier_pk: strawberry.Private[uuid.UUID | None]
    partner_pk: strawberry.Private[uuid.UUID | None]
    book: strawberry.Private[PriceBook]

    @strawberry.field(description="Whether this is a default book (prices for everyone).")
    def is_default(self) -> bool:
        return self.book.scope == PriceBookScope.DEFAULT

    @strawberry.field(description="The tier a TIER book prices for.")
    async def tier(self, info: Info) -> PartnerTierType | None:
        return await load_tier(info.context, self.tier_pk) if self.tier_pk else None

    @strawberry.field(description="The partner a PARTNER book prices for.")
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk) if self.partner_pk else None

    @strawberry.field(description="Its entries, by product and then volume break.")
    async def entries(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: PriceBookEntryFilter | None = None,
    ) -> Connection[PriceBookEntryType]:
        info.context.loaders.prime(PriceBook, self.book)
        product = filter.product_pk() if filter is not None else None
        return await nested_page(
            info,
            BOOK_ENTRIES,
            self.pk,
            first=first,
            after=after,
            order=BY_PRODUCT,
            criteria=product,
        )

    @classmethod
    def from_model(cls, row: PriceBook) -> PriceBookType:
        return cls.from_row(row, tier_pk=row.tier_id, partner_pk=row.partner_id, book=row)


@register_node(PriceBookType)
async def load_price_book(context: Context, pk: uuid.UUID) -> PriceBookType | None:
    """The book if the caller may see it (staff: any; partner users: default books,
    their tier's and their own)."""
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_price_books(context.principal).where(PriceBook.id == pk)
    )
    return PriceBookType.from_model(row) if row else None


@register_node(PriceBookEntryType)
async def load_price_book_entry(context: Context, pk: uuid.UUID) -> PriceBookEntryType | None:
    """The entry if the caller may see its book."""
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_price_book_entries(context.principal).where(PriceBookEntry.id == pk)
    )
    return PriceBookEntryType.from_model(row) if row else None
