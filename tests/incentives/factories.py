"""Shared pieces of the incentives tests: a tenant with a two-level program and two
enrolled partners, deals written straight into the database, accepted quotes, GraphQL
documents and helpers to create rules and run the evaluation jobs."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from prm.auth.principal import Role
from prm.catalog.models import Quote, QuoteLine, QuoteStatus
from prm.crm.models import Opportunity, OpportunityStage
from prm.db.engine import Database
from prm.graphql.relay import encode_global_id
from prm.incentives.evaluate import EVALUATE
from prm.incentives.models import EarnedIncentive, IncentiveRule
from prm.partners.models import PartnerNotification
from prm.partners.program_models import (
    ChannelProgram,
    EnrolmentSource,
    ProgramEnrolment,
    ProgramLevel,
)
from prm.tenants.models import User
from prm.workers.actors import run_job
from prm.workers.models import Job, JobStatus
from tests.crm.factories import make_account
from tests.factories import TenantWithAdmin, bearer, make_partner, make_tenant, make_user, unique
from tests.graphql.support import gql
from tests.metrics.test_partner_scorecards import Builder

ERRORS = "errors { code field message }"
RULE_FIELDS = """id name kind dealScope percent amount { amount currency } currency
  tiers { threshold percent } periodKind productIds startsAt endsAt disputeDays
  programId levelId"""
CREATE_RULE = f"""mutation($input: CreateIncentiveRuleInput!) {{
  createIncentiveRule(input: $input) {{ incentiveRule {{ {RULE_FIELDS} }} {ERRORS} }} }}"""
UPDATE_RULE = f"""mutation($id: ID!, $input: UpdateIncentiveRuleInput!) {{
  updateIncentiveRule(id: $id, input: $input) {{ incentiveRule {{ {RULE_FIELDS} }} {ERRORS} }} }}"""
END_RULE = f"""mutation($id: ID!, $endsAt: DateTime) {{
  endIncentiveRule(id: $id, endsAt: $endsAt) {{ incentiveRule {{ id endsAt }} {ERRORS} }} }}"""
RULES = """query($filter: IncentiveRuleFilter) {
  incentiveRules(filter: $filter, first: 50) { totalCount edges { node { id name } } } }"""
UPDATE_OPPORTUNITY = f"""mutation($id: ID!, $input: UpdateOpportunityInput!) {{
  updateOpportunity(id: $id, input: $input) {{ opportunity {{ id stage }} {ERRORS} }} }}"""
EARNED = """query($filter: EarnedIncentiveFilter) {
  earnedIncentives(filter: $filter, first: 50) { totalCount edges { node {
    id status amount { amount currency } basis rule { id kind } partner { id }
    opportunity { id } } } } }"""
STATEMENT = """query($partnerId: ID!, $period: String!) {
  incentiveStatement(partnerId: $partnerId, period: $period) {
    period lines { id status amount { amount currency } }
    totals { status count amount { amount currency } } } }"""
APPROVE = f"""mutation($id: ID!) {{ approveIncentive(id: $id) {{
  earnedIncentive {{ status }} {ERRORS} }} }}"""
PAY = f"""mutation($id: ID!, $ref: String!) {{ payIncentive(id: $id, reference: $ref) {{
  earnedIncentive {{ status paymentReference }} {ERRORS} }} }}"""
DISPUTE = f"""mutation($id: ID!, $reason: String!) {{ disputeIncentive(id: $id, reason: $reason) {{
  earnedIncentive {{ status disputeReason }} {ERRORS} }} }}"""
RESOLVE = f"""mutation($id: ID!, $outcome: IncentiveStatus!) {{
  resolveIncentiveDispute(id: $id, outcome: $outcome) {{ earnedIncentive {{ status }} {ERRORS} }} }}"""
COMPUTE_REBATES = f"""mutation($period: String!) {{
  computeRebates(period: $period) {{ job {{ id kind }} {ERRORS} }} }}"""
NODE = """query($id: ID!) { node(id: $id) { id } }"""

_quote_numbers = itertools.count(1)


def money(value: Decimal, places: str = "0.01") -> Decimal:
    """Half-up to the minor unit `places` (computed here, not by prm.money)."""
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def gid(kind: str, pk: uuid.UUID) -> str:
    return encode_global_id(kind, pk)


@dataclass
class World:
    tenant: TenantWithAdmin
    partner_id: uuid.UUID
    other_partner_id: uuid.UUID
    program_id: uuid.UUID
    gold_id: uuid.UUID
    silver_id: uuid.UUID
    partner_user: User
    other_partner_user: User
    build: Builder

    def admin_headers(self, app: FastAPI) -> dict[str, str]:
        return bearer(app.state.issuer, self.tenant.admin)

    def partner_headers(self, app: FastAPI) -> dict[str, str]:
        return bearer(app.state.issuer, self.partner_user)


async def make_world(database: Database) -> World:
    """A program with Silver and Gold; the partner is Gold, the other partner Silver."""
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    other = await make_partner(database, tenant.id)
    with database.sync_session(tenant.id) as session:
        program = ChannelProgram(tenant_id=tenant.id, name=unique("Resellers"))
        session.add(program)
        session.flush()
        silver = ProgramLevel(tenant_id=tenant.id, program_id=program.id, name="Silver", rank=1)
        gold = ProgramLevel(tenant_id=tenant.id, program_id=program.id, name="Gold", rank=2)
        session.add_all([silver, gold])
        session.flush()
        for partner_id, level in ((partner.id, gold), (other.id, silver)):
            session.add(
                ProgramEnrolment(
                    tenant_id=tenant.id,
                    program_id=program.id,
                    partner_id=partner_id,
                    level_id=level.id,
                    source=EnrolmentSource.ADMIN,
                )
            )
    user = await make_user(database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id)
    other_user = await make_user(
        database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=other.id
    )
    account = await make_account(database, tenant.id)
    return World(
        tenant, partner.id, other.id, program.id, gold.id, silver.id, user, other_user,
        Builder(database, tenant.id, account.id),
    )  # fmt: skip


def add_program(database: Database, world: World) -> tuple[uuid.UUID, uuid.UUID]:
    """A second program (with one level) the world's partners are not enrolled in."""
    with database.sync_session(world.tenant.id) as session:
        program = ChannelProgram(tenant_id=world.tenant.id, name=unique("Distributors"))
        session.add(program)
        session.flush()
        level = ProgramLevel(
            tenant_id=world.tenant.id, program_id=program.id, name="Member", rank=1
        )
        session.add(level)
    return program.id, level.id


def open_deal(
    database: Database,
    world: World,
    partner_id: uuid.UUID,
    amount: str,
    *,
    currency: str = "USD",
    lead: bool = False,
    lead_partner_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """An open deal of `partner_id`; `lead`: from a lead the partner holds (or
    `lead_partner_id` holds)."""
    source = None
    if lead or lead_partner_id is not None:
        source = world.build.lead(lead_partner_id or partner_id)
    with database.sync_session(world.tenant.id) as session:
        opportunity = Opportunity(
            tenant_id=world.tenant.id,
            account_id=world.build.account_id,
            name=unique("Deal"),
            amount=Decimal(amount),
            currency=currency,
            stage=OpportunityStage.NEGOTIATION,
            probability=75,
            partner_id=partner_id,
            source_lead_id=source,
        )
        session.add(opportunity)
    return opportunity.id


def won_deal(
    database: Database, world: World, partner_id: uuid.UUID, amount: str, *, currency: str = "USD"
) -> uuid.UUID:
    """A deal already won now, written directly (no job is enqueued for it)."""
    with database.sync_session(world.tenant.id) as session:
        opportunity = Opportunity(
            tenant_id=world.tenant.id,
            account_id=world.build.account_id,
            name=unique("Won"),
            amount=Decimal(amount),
            currency=currency,
            stage=OpportunityStage.CLOSED_WON,
            probability=100,
            partner_id=partner_id,
            closed_at=datetime.now(UTC),
        )
        session.add(opportunity)
    return opportunity.id


def add_quote(
    database: Database,
    world: World,
    opportunity_id: uuid.UUID,
    lines: Sequence[tuple[uuid.UUID, int]],
    *,
    status: QuoteStatus = QuoteStatus.ACCEPTED,
    accepted_at: datetime | None = None,
) -> uuid.UUID:
    """A quote of the deal with `(product_id, quantity)` lines at 10 a unit; an ACCEPTED
    one accepted at `accepted_at` (default now)."""
    with database.sync_session(world.tenant.id) as session:
        quote = Quote(
            tenant_id=world.tenant.id,
            number=next(_quote_numbers),
            status=status,
            opportunity_id=opportunity_id,
            account_id=world.build.account_id,
            currency="USD",
            accepted_at=(accepted_at or datetime.now(UTC))
            if status is QuoteStatus.ACCEPTED
            else None,
        )
        session.add(quote)
        session.flush()
        for position, (product_id, quantity) in enumerate(lines, start=1):
            price = Decimal("10.00")
            session.add(
                QuoteLine(
                    tenant_id=world.tenant.id,
                    quote_id=quote.id,
                    position=position,
                    product_id=product_id,
                    sku=unique("SKU"),
                    product_name="Widget",
                    quantity=quantity,
                    list_unit_price=price,
                    unit_price=price,
                    total=price * quantity,
                )
            )
    return quote.id


async def create_rule(
    client: httpx.AsyncClient,
    app: FastAPI,
    world: World,
    *,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The `createIncentiveRule` payload (programId defaults to the world's program)."""
    body = await gql(
        client,
        CREATE_RULE,
        {"input": {"programId": gid("ChannelProgram", world.program_id), **fields}},
        headers=headers or world.admin_headers(app),
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createIncentiveRule"]
    return payload


async def rule_ok(
    client: httpx.AsyncClient, app: FastAPI, world: World, **fields: Any
) -> dict[str, Any]:
    payload = await create_rule(client, app, world, **fields)
    assert payload["errors"] == [], payload
    rule: dict[str, Any] = payload["incentiveRule"]
    return rule


async def set_stage(
    client: httpx.AsyncClient, app: FastAPI, world: World, deal: uuid.UUID, stage: str
) -> None:
    body = await gql(
        client,
        UPDATE_OPPORTUNITY,
        {"id": gid("Opportunity", deal), "input": {"stage": stage}},
        headers=world.admin_headers(app),
    )
    assert body["data"]["updateOpportunity"]["errors"] == [], body


def evaluate_jobs(database: Database, tenant_id: uuid.UUID) -> list[Job]:
    with database.sync_session(tenant_id) as session:
        return list(
            session.scalars(select(Job).where(Job.kind == EVALUATE).order_by(Job.created_at))
        )


def run_evaluations(database: Database, tenant_id: uuid.UUID) -> None:
    for job in evaluate_jobs(database, tenant_id):
        assert run_job(database, EVALUATE, tenant_id, job.id) is JobStatus.SUCCEEDED


async def win(
    client: httpx.AsyncClient, app: FastAPI, database: Database, world: World, deal: uuid.UUID
) -> None:
    """Close the deal as won through the API and run the evaluation it enqueued."""
    await set_stage(client, app, world, deal, "CLOSED_WON")
    run_evaluations(database, world.tenant.id)


def earned_rows(database: Database, tenant_id: uuid.UUID) -> list[EarnedIncentive]:
    with database.sync_session(tenant_id) as session:
        return list(session.scalars(select(EarnedIncentive).order_by(EarnedIncentive.created_at)))


def rule_count(database: Database, tenant_id: uuid.UUID) -> int:
    with database.sync_session(tenant_id) as session:
        return len(list(session.scalars(select(IncentiveRule.id))))


def notification_kinds(
    database: Database, tenant_id: uuid.UUID, partner_id: uuid.UUID
) -> list[str]:
    with database.sync_session(tenant_id) as session:
        return list(
            session.scalars(
                select(PartnerNotification.kind).where(PartnerNotification.partner_id == partner_id)
            )
        )


async def earned(
    client: httpx.AsyncClient, app: FastAPI, user: User, **filter: Any
) -> list[dict[str, Any]]:
    body = await gql(client, EARNED, {"filter": filter}, headers=bearer(app.state.issuer, user))
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["earnedIncentives"]["edges"]]
