"""Shared set-up of the case tests (no tests here): agents, queues, customers with won
deals, and the GraphQL documents."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update

from prm.crm.case_models import Case, CaseEvent, CaseQueue
from prm.crm.models import Opportunity, OpportunityStage
from prm.db.engine import Database
from prm.employees.models import Employee
from tests.crm.factories import make_account, make_opportunity
from tests.factories import make_employee

ERRORS = "errors { code field message }"
CASE_FIELDS = """id number kind channel priority status subject escalationLevel reopenCount
  loyaltyScore customerValue { amount currency } breached
  firstResponseDueAt resolutionDueAt firstRespondedAt resolvedAt closedAt createdAt
  account { id } contact { id } queue { id name } assignee { id name } partner { id }"""
OPEN = f"""mutation ($input: OpenCaseInput!) {{
  openCase(input: $input) {{ case {{ {CASE_FIELDS} }} {ERRORS} }} }}"""
ASSIGN = f"""mutation ($id: ID!, $employeeId: ID!) {{
  assignCase(id: $id, employeeId: $employeeId) {{ case {{ {CASE_FIELDS} }} {ERRORS} }} }}"""
RESPOND = f"""mutation ($id: ID!, $message: String!) {{
  respondToCase(id: $id, message: $message) {{ case {{ {CASE_FIELDS} }} {ERRORS} }} }}"""
ESCALATE = f"""mutation ($id: ID!, $reason: String!) {{
  escalateCase(id: $id, reason: $reason) {{ case {{ {CASE_FIELDS} }} {ERRORS} }} }}"""
RESOLVE = f"""mutation ($id: ID!, $resolution: String!) {{
  resolveCase(id: $id, resolution: $resolution) {{ case {{ {CASE_FIELDS} }} {ERRORS} }} }}"""
REOPEN = f"""mutation ($id: ID!, $reason: String!) {{
  reopenCase(id: $id, reason: $reason) {{ case {{ {CASE_FIELDS} }} {ERRORS} }} }}"""
CLOSE = f"""mutation ($id: ID!) {{
  closeCase(id: $id) {{ case {{ {CASE_FIELDS} }} {ERRORS} }} }}"""
SET_SLA = f"""mutation ($priority: CasePriority!, $first: Int!, $resolution: Int!) {{
  setCaseSlaPolicy(priority: $priority, firstResponseMinutes: $first,
                   resolutionMinutes: $resolution) {{
    policy {{ priority firstResponseMinutes resolutionMinutes isDefault }} {ERRORS} }} }}"""
SLA_POLICIES = (
    """{ caseSlaPolicies { priority firstResponseMinutes resolutionMinutes isDefault } }"""
)
CREATE_QUEUE = f"""mutation ($input: CreateCaseQueueInput!) {{
  createCaseQueue(input: $input) {{ queue {{ id name skills kinds }} {ERRORS} }} }}"""
UPDATE_QUEUE = f"""mutation ($id: ID!, $input: UpdateCaseQueueInput!) {{
  updateCaseQueue(id: $id, input: $input) {{ queue {{ id name skills kinds }} {ERRORS} }} }}"""
SET_AGENT = f"""mutation ($employeeId: ID!, $skills: [String!]!, $capacity: Int) {{
  setAgentProfile(employeeId: $employeeId, skills: $skills, caseCapacity: $capacity) {{
    profile {{ skills caseCapacity employee {{ id }} }} {ERRORS} }} }}"""
CASES = f"""query ($first: Int, $after: String, $filter: CaseFilter) {{
  cases(first: $first, after: $after, filter: $filter) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {CASE_FIELDS} }} }} }} }}"""
NODE = f"""query ($id: ID!) {{ node(id: $id) {{ id ... on Case {{ {CASE_FIELDS} }} }} }}"""
HISTORY = """query ($id: ID!) { node(id: $id) { ... on Case {
  history { kind fromStatus toStatus note assignee { id } actor { id } } } } }"""


def open_input(account: Any, **overrides: Any) -> dict[str, Any]:
    from tests.crm.factories import gid

    return {
        "accountId": gid("Account", account),
        "kind": "SERVICE_REQUEST",
        "channel": "EMAIL",
        "priority": "NORMAL",
        "subject": "Printer on fire",
    } | overrides


async def make_agent(
    database: Database,
    tenant_id: uuid.UUID,
    *,
    skills: list[str],
    capacity: int | None,
    name: str | None = None,
    user_id: uuid.UUID | None = None,
    active: bool = True,
) -> Employee:
    employee = await make_employee(database, tenant_id, name=name, user_id=user_id, active=active)
    async with database.session(tenant_id) as session:
        await session.execute(
            update(Employee)
            .where(Employee.tenant_id == tenant_id, Employee.id == employee.id)
            .values(skills=skills, case_capacity=capacity)
        )
    employee.skills, employee.case_capacity = skills, capacity
    return employee


async def make_queue(
    database: Database,
    tenant_id: uuid.UUID,
    *,
    name: str,
    skills: list[str],
    kinds: list[str] | None = None,
) -> CaseQueue:
    async with database.session(tenant_id) as session:
        queue = CaseQueue(
            tenant_id=tenant_id, name=name, skills=skills, kinds=kinds or [], description=None
        )
        session.add(queue)
    return queue


async def won_deal(
    database: Database,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    amount: str,
    closed_at: datetime,
    currency: str = "USD",
) -> Opportunity:
    deal = await make_opportunity(
        database,
        tenant_id,
        account_id=account_id,
        amount=amount,
        currency=currency,
        stage=OpportunityStage.CLOSED_WON,
    )
    async with database.session(tenant_id) as session:
        await session.execute(
            update(Opportunity)
            .where(Opportunity.tenant_id == tenant_id, Opportunity.id == deal.id)
            .values(closed_at=closed_at)
        )
    return deal


async def customer(
    database: Database, tenant_id: uuid.UUID, *, won: list[tuple[str, datetime]] = ()
) -> Any:
    """An account with the given won deals (amount, closed at), in USD."""
    account = await make_account(database, tenant_id)
    for amount, closed_at in won:
        await won_deal(database, tenant_id, account.id, amount=amount, closed_at=closed_at)
    account.total = sum((Decimal(amount) for amount, _ in won), Decimal("0"))
    return account


async def counts(database: Database, tenant_id: uuid.UUID) -> tuple[int, int]:
    """(cases, case events) of the tenant."""
    async with database.session(tenant_id) as session:
        cases = await session.scalar(select(func.count()).select_from(Case))
        events = await session.scalar(select(func.count()).select_from(CaseEvent))
    return int(cases or 0), int(events or 0)


async def case_row(database: Database, tenant_id: uuid.UUID, case_id: uuid.UUID) -> Case:
    async with database.session(tenant_id) as session:
        return await session.get_one(Case, (tenant_id, case_id))
