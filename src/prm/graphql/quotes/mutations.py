"""`createQuote`, `updateQuote`, `sendQuote`, `acceptQuote`, `expireQuote`: for staff and
partner users; a quote the caller may not see is `NOT_FOUND`."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.catalog import quotes as service
from prm.graphql.context import Context, Info
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.quotes.inputs import CreateQuoteInput, UpdateQuoteInput, line_specs
from prm.graphql.quotes.types import QuoteType, quote_lines_loader
from prm.graphql.relay import require_pk

QUOTERS = (Role.ADMIN, Role.MANAGER, Role.EMPLOYEE, Role.PARTNER_ADMIN, Role.PARTNER_REP)


@strawberry.type
class QuotePayload(Payload):
    quote: QuoteType | None = None


def _answer(context: Context, saved: service.SavedQuote) -> QuotePayload:
    """The payload, with the lines just written (if any) handed to the lines loader, in
    place of any it read earlier in the request."""
    if saved.lines is not None:
        quote_lines_loader(context).prime(saved.quote.id, saved.lines, force=True)
    return QuotePayload(quote=QuoteType.from_model(saved.quote))


@strawberry.type
class Mutation:
    @mutation(
        QuotePayload,
        roles=QUOTERS,
        description="Price lines now and save them as a numbered DRAFT quote, breakdown "
        "frozen; lines short of stock are flagged, not refused.",
    )
    async def create_quote(self, info: Info, input: CreateQuoteInput) -> QuotePayload:
        saved = await service.create_quote(
            info.context.session,
            require_principal(info),
            lines=line_specs(input.lines),
            partner_id=(
                require_pk(input.partner_id, "Partner", field="partnerId")
                if input.partner_id is not None
                else None
            ),
            account_id=(
                require_pk(input.account_id, "Account", field="accountId")
                if input.account_id is not None
                else None
            ),
            opportunity_id=(
                require_pk(input.opportunity_id, "Opportunity", field="opportunityId")
                if input.opportunity_id is not None
                else None
            ),
            currency=input.currency,
            valid_until=input.valid_until,
            promotion_code=input.promotion_code,
            location=input.location,
            notes=input.notes,
        )
        return _answer(info.context, saved)

    @mutation(
        QuotePayload,
        roles=QUOTERS,
        description="Change a DRAFT quote; new lines, promotion code or location re-price "
        "all of it now.",
    )
    async def update_quote(
        self, info: Info, id: strawberry.ID, input: UpdateQuoteInput
    ) -> QuotePayload:
        saved = await service.update_quote(
            info.context.session,
            require_principal(info),
            require_pk(id, "Quote", field="id"),
            input.changes(),
        )
        return _answer(info.context, saved)

    @mutation(
        QuotePayload,
        roles=QUOTERS,
        description="DRAFT → SENT, frozen as priced (EXPIRED past validUntil).",
    )
    async def send_quote(self, info: Info, id: strawberry.ID) -> QuotePayload:
        quote = await service.send_quote(
            info.context.session, require_principal(info), require_pk(id, "Quote", field="id")
        )
        return _answer(info.context, service.SavedQuote(quote))

    @mutation(
        QuotePayload,
        roles=QUOTERS,
        description="SENT → ACCEPTED while valid (EXPIRED past validUntil). With "
        "setOpportunityAmount, the quote's opportunity takes its total as amount.",
    )
    async def accept_quote(
        self, info: Info, id: strawberry.ID, set_opportunity_amount: bool | None = None
    ) -> QuotePayload:
        quote = await service.accept_quote(
            info.context.session,
            require_principal(info),
            require_pk(id, "Quote", field="id"),
            set_opportunity_amount=bool(set_opportunity_amount),
        )
        if set_opportunity_amount and quote.opportunity_id is not None:
            info.context.audit_object_ids.append(f"Opportunity:{quote.opportunity_id}")
        return _answer(info.context, service.SavedQuote(quote))

    @mutation(QuotePayload, roles=QUOTERS, description="DRAFT or SENT → EXPIRED.")
    async def expire_quote(self, info: Info, id: strawberry.ID) -> QuotePayload:
        quote = await service.expire_quote(
            info.context.session, require_principal(info), require_pk(id, "Quote", field="id")
        )
        return _answer(info.context, service.SavedQuote(quote))
