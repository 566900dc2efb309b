"""Mutations of the leads domain. Each parses, calls one service function (the leads
services are synchronous: they run on the request's session through `run_sync`), and
shapes the payload; transactions, audit and error mapping come from `@mutation`."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.graphql.context import Info
from prm.graphql.crm.types import (
    AccountType,
    ContactType,
    OpportunityType,
    load_account,
    load_contact,
    load_opportunity,
)
from prm.graphql.leads.inputs import (
    ConvertLeadInput,
    CreateDistributionRuleInput,
    CreateLeadInput,
    LeadScoringRuleInput,
    LeadStatusEnum,
    UpdateDistributionRuleInput,
    UpdateLeadInput,
)
from prm.graphql.leads.types import (
    DistributionRuleType,
    LeadOfferType,
    LeadScoringRuleType,
    LeadType,
)
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk
from prm.leads import capture, convert, lifecycle, offers, pool, routing, rules, scoring
from prm.leads.models import Lead, LeadOffer, LeadStatus

STAFF = (Role.ADMIN, Role.MANAGER, Role.EMPLOYEE)
MANAGERS = (Role.ADMIN, Role.MANAGER)
PARTNER_USERS = (Role.PARTNER_ADMIN, Role.PARTNER_REP)
WORKERS = (*MANAGERS, *PARTNER_USERS)


@strawberry.type
class LeadPayload(Payload):
    lead: LeadType | None = None


@strawberry.type
class LeadOfferPayload(Payload):
    lead_offer: LeadOfferType | None = None
    lead: LeadType | None = strawberry.field(default=None, description="The offer's lead, after.")


@strawberry.type
class ConvertLeadPayload(Payload):
    lead: LeadType | None = None
    account: AccountType | None = None
    contact: ContactType | None = None
    opportunity: OpportunityType | None = None


@strawberry.type
class DistributionRulePayload(Payload):
    distribution_rule: DistributionRuleType | None = None


@strawberry.type
class LeadScoringRulesPayload(Payload):
    rules: list[LeadScoringRuleType] = strawberry.field(default_factory=list)


async def _offer_payload(info: Info, offer: LeadOffer) -> LeadOfferPayload:
    lead = await info.context.loaders.by_id(Lead).load(offer.lead_id)
    return LeadOfferPayload(
        lead_offer=LeadOfferType.from_model(offer),
        lead=LeadType.from_model(lead) if lead else None,
    )


@strawberry.type
class Mutation:
    @mutation(LeadPayload, roles=STAFF, description="Capture a lead; it is routed at once.")
    async def create_lead(self, info: Info, input: CreateLeadInput) -> LeadPayload:
        fields = input.fields()
        lead = await info.context.session.run_sync(
            capture.create_lead,
            require_principal(info),
            fields,
            allow_duplicate=input.allow_duplicate,
            campaign_id=(
                require_pk(input.campaign_id, "Campaign", field="campaignId")
                if input.campaign_id is not None
                else None
            ),
        )
        return LeadPayload(lead=LeadType.from_model(lead))

    @mutation(
        LeadPayload,
        roles=WORKERS,
        description="Edit an open lead's details: validated as on capture, then rescored.",
    )
    async def update_lead(
        self, info: Info, id: strawberry.ID, input: UpdateLeadInput
    ) -> LeadPayload:
        lead = await info.context.session.run_sync(
            capture.update_lead,
            require_principal(info),
            require_pk(id, "Lead", field="id"),
            input.changes(),
            allow_duplicate=input.allow_duplicate,
        )
        return LeadPayload(lead=LeadType.from_model(lead))

    @mutation(LeadPayload, roles=MANAGERS, description="Route a lead again by the current rules.")
    async def route_lead(self, info: Info, id: strawberry.ID) -> LeadPayload:
        lead = await info.context.session.run_sync(
            routing.reroute_lead, require_principal(info), require_pk(id, "Lead", field="id")
        )
        return LeadPayload(lead=LeadType.from_model(lead))

    @mutation(
        LeadOfferPayload,
        roles=PARTNER_USERS,
        description="Accept an offer made to your partner: the lead is ACCEPTED and yours.",
    )
    async def accept_lead_offer(self, info: Info, id: strawberry.ID) -> LeadOfferPayload:
        offer = await info.context.session.run_sync(
            offers.accept_offer,
            require_principal(info),
            require_pk(id, "LeadOffer", field="id"),
        )
        return await _offer_payload(info, offer)

    @mutation(
        LeadOfferPayload,
        roles=PARTNER_USERS,
        description="Decline an offer (a reason is required); the lead moves on.",
    )
    async def reject_lead_offer(
        self, info: Info, id: strawberry.ID, reason: str
    ) -> LeadOfferPayload:
        offer = await info.context.session.run_sync(
            offers.reject_offer,
            require_principal(info),
            require_pk(id, "LeadOffer", field="id"),
            reason,
        )
        return await _offer_payload(info, offer)

    @mutation(
        LeadPayload,
        roles=PARTNER_USERS,
        description="Claim a pooled lead for your partner; the first claim wins, others "
        "get ALREADY_CLAIMED.",
    )
    async def claim_lead(self, info: Info, id: strawberry.ID) -> LeadPayload:
        lead = await info.context.session.run_sync(
            pool.claim_lead, require_principal(info), require_pk(id, "Lead", field="id")
        )
        return LeadPayload(lead=LeadType.from_model(lead))

    @mutation(
        LeadPayload,
        roles=WORKERS,
        description="ACCEPTED→WORKING→QUALIFIED, or LOST/DISQUALIFIED from an open status.",
    )
    async def update_lead_status(
        self,
        info: Info,
        id: strawberry.ID,
        status: LeadStatusEnum,  # type: ignore[valid-type]
        note: str | None = None,
    ) -> LeadPayload:
        lead = await info.context.session.run_sync(
            lifecycle.update_status,
            require_principal(info),
            require_pk(id, "Lead", field="id"),
            LeadStatus(status),
            note=note,
        )
        return LeadPayload(lead=LeadType.from_model(lead))

    @mutation(
        LeadPayload,
        roles=(*MANAGERS, Role.PARTNER_ADMIN),
        description="Give a held lead to a user of the holding partner.",
    )
    async def assign_lead(
        self, info: Info, id: strawberry.ID, user_id: strawberry.ID
    ) -> LeadPayload:
        lead = await info.context.session.run_sync(
            lifecycle.assign_lead,
            require_principal(info),
            require_pk(id, "Lead", field="id"),
            require_pk(user_id, "User", field="userId"),
        )
        return LeadPayload(lead=LeadType.from_model(lead))

    @mutation(
        ConvertLeadPayload,
        roles=WORKERS,
        description="Match or create the account and contact, create the opportunity with "
        "the holding partner, and mark the lead CONVERTED.",
    )
    async def convert_lead(
        self, info: Info, id: strawberry.ID, input: ConvertLeadInput
    ) -> ConvertLeadPayload:
        result = await convert.convert_lead(
            info.context.session,
            require_principal(info),
            require_pk(id, "Lead", field="id"),
            opportunity_name=input.opportunity_name,
            amount=input.amount.parse(field="amount") if input.amount else None,
            account_name=input.account_name,
            close_date=input.close_date,
        )
        context = info.context
        # Records the caller may not see (a matched tenant account) are null, as anywhere.
        return ConvertLeadPayload(
            lead=LeadType.from_model(result.lead),
            account=await load_account(context, result.account.id),
            contact=await load_contact(context, result.contact.id) if result.contact else None,
            opportunity=await load_opportunity(context, result.opportunity.id),
        )

    @mutation(DistributionRulePayload, roles=(Role.ADMIN,), description="Admins only.")
    async def create_distribution_rule(
        self, info: Info, input: CreateDistributionRuleInput
    ) -> DistributionRulePayload:
        rule = await info.context.session.run_sync(
            rules.create_rule, require_principal(info), input.changes()
        )
        return DistributionRulePayload(distribution_rule=DistributionRuleType.from_model(rule))

    @mutation(DistributionRulePayload, roles=(Role.ADMIN,), description="Admins only.")
    async def update_distribution_rule(
        self, info: Info, id: strawberry.ID, input: UpdateDistributionRuleInput
    ) -> DistributionRulePayload:
        rule = await info.context.session.run_sync(
            rules.update_rule,
            require_principal(info),
            require_pk(id, "DistributionRule", field="id"),
            input.changes(),
        )
        return DistributionRulePayload(distribution_rule=DistributionRuleType.from_model(rule))

    @mutation(DistributionRulePayload, roles=(Role.ADMIN,), description="Admins only.")
    async def delete_distribution_rule(
        self, info: Info, id: strawberry.ID
    ) -> DistributionRulePayload:
        rule = await info.context.session.run_sync(
            rules.delete_rule,
            require_principal(info),
            require_pk(id, "DistributionRule", field="id"),
        )
        return DistributionRulePayload(distribution_rule=DistributionRuleType.from_model(rule))

    @mutation(
        LeadScoringRulesPayload,
        roles=(Role.ADMIN,),
        description="Replace the lead scoring rules; open leads are rescored (admins only).",
    )
    async def set_lead_scoring_rules(
        self, info: Info, rules: list[LeadScoringRuleInput]
    ) -> LeadScoringRulesPayload:
        specs = [rule.spec() for rule in rules]
        rows = await info.context.session.run_sync(
            scoring.set_scoring_rules, require_principal(info), specs
        )
        return LeadScoringRulesPayload(rules=[LeadScoringRuleType.from_model(row) for row in rows])
