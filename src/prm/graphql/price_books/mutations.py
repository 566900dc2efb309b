"""`createPriceBook`, `updatePriceBook` and `setPriceBookEntries`: admins and managers."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.catalog import price_books
from prm.graphql.context import Info
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.price_books.inputs import (
    CreatePriceBookInput,
    PriceBookEntryInput,
    UpdatePriceBookInput,
)
from prm.graphql.price_books.types import PriceBookType
from prm.graphql.relay import require_pk

MANAGERS = (Role.ADMIN, Role.MANAGER)


@strawberry.type
class PriceBookPayload(Payload):
    price_book: PriceBookType | None = None


@strawberry.type
class Mutation:
    @mutation(
        PriceBookPayload,
        roles=MANAGERS,
        description="A new, empty price book: the default, a tier's or a partner's. CONFLICT "
        "if, active, its validity overlaps another active book of the same scope, target "
        "and currency.",
    )
    async def create_price_book(self, info: Info, input: CreatePriceBookInput) -> PriceBookPayload:
        book = await price_books.create_price_book(
            info.context.session,
            require_principal(info),
            name=input.name,
            currency=input.currency,
            is_default=input.is_default,
            tier_id=(
                require_pk(input.tier_id, "PartnerTier", field="tierId")
                if input.tier_id is not None
                else None
            ),
            partner_id=(
                require_pk(input.partner_id, "Partner", field="partnerId")
                if input.partner_id is not None
                else None
            ),
            valid_from=input.valid_from,
            valid_until=input.valid_until,
            active=input.active,
        )
        return PriceBookPayload(price_book=PriceBookType.from_model(book))

    @mutation(
        PriceBookPayload,
        roles=MANAGERS,
        description="Rename a book, move its validity window or (de)activate it; the "
        "overlap rule is checked again.",
    )
    async def update_price_book(
        self, info: Info, id: strawberry.ID, input: UpdatePriceBookInput
    ) -> PriceBookPayload:
        changes = price_books.PriceBookChanges()
        if input.name is not strawberry.UNSET:
            changes["name"] = input.name
        if input.valid_from is not strawberry.UNSET:
            changes["valid_from"] = input.valid_from
        if input.valid_until is not strawberry.UNSET:
            changes["valid_until"] = input.valid_until
        if input.active is not strawberry.UNSET:
            changes["active"] = input.active
        book = await price_books.update_price_book(
            info.context.session,
            require_principal(info),
            require_pk(id, "PriceBook", field="id"),
            changes,
        )
        return PriceBookPayload(price_book=PriceBookType.from_model(book))

    @mutation(
        PriceBookPayload,
        roles=MANAGERS,
        description="Replace the book's entries (an empty list clears it), all validated "
        f"first; at most {price_books.MAX_ENTRIES} at once.",
    )
    async def set_price_book_entries(
        self, info: Info, price_book_id: strawberry.ID, entries: list[PriceBookEntryInput]
    ) -> PriceBookPayload:
        book = await price_books.set_price_book_entries(
            info.context.session,
            require_principal(info),
            require_pk(price_book_id, "PriceBook", field="priceBookId"),
            [entry.entry() for entry in entries],
        )
        return PriceBookPayload(price_book=PriceBookType.from_model(book))
