"""Shared pieces of the MDF tests: a tenant with an admin, a manager and two partners with
their users, the GraphQL documents, and helpers that drive the API over HTTP."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.graphql.relay import encode_global_id
from prm.mdf.models import ClaimFile, FundClaim, FundRequest, MdfAllocation, MdfBudget, MdfEvent
from prm.partners.models import Partner, PartnerNotification
from prm.tenants.models import User
from tests.factories import TenantWithAdmin, bearer, make_partner, make_tenant, make_user
from tests.graphql.support import gql

ERRORS = "errors { code field message }"
MONEY = "{ amount currency }"
BUDGET = f"id name period amount {MONEY} allocated {MONEY} remaining {MONEY}"
ALLOCATION = (
    f"id amount {MONEY} requested {MONEY} remaining {MONEY} source budgetName period "
    "partner { id } budget { id }"
)
HISTORY = "history { entity fromStatus toStatus actorId comment at }"
REQUEST = (
    f"id activity campaign expectedOutcome status reviewComment amount {MONEY} "
    f"allocation {{ id }} partner {{ id }} {HISTORY}"
)
CLAIM = (
    f"id status amount {MONEY} reviewComment paymentReference paidAt request {{ id status }} "
    f"files {{ id filename contentType sizeBytes sha256 }} {HISTORY}"
)

CREATE_BUDGET = f"""
mutation($input: CreateMdfBudgetInput!) {{
  createMdfBudget(input: $input) {{ mdfBudget {{ {BUDGET} }} {ERRORS} }}
}}"""
ALLOCATE = f"""
mutation($budgetId: ID!, $partnerId: ID!, $amount: MoneyInput!) {{
  allocateMdf(budgetId: $budgetId, partnerId: $partnerId, amount: $amount) {{
    mdfAllocation {{ {ALLOCATION} }} {ERRORS}
  }}
}}"""
ALLOCATE_FROM_LEVELS = f"""
mutation($budgetId: ID!) {{
  allocateMdfFromLevels(budgetId: $budgetId) {{ mdfAllocations {{ {ALLOCATION} }} {ERRORS} }}
}}"""
REQUEST_FUNDS = f"""
mutation($input: RequestFundsInput!) {{
  requestFunds(input: $input) {{ fundRequest {{ {REQUEST} }} {ERRORS} }}
}}"""
REVIEW_REQUEST = f"""
mutation($id: ID!, $approve: Boolean!, $comment: String) {{
  reviewFundRequest(id: $id, approve: $approve, comment: $comment) {{
    fundRequest {{ {REQUEST} }} {ERRORS}
  }}
}}"""
CANCEL_REQUEST = f"""
mutation($id: ID!) {{ cancelFundRequest(id: $id) {{ fundRequest {{ {REQUEST} }} {ERRORS} }} }}"""
SUBMIT_CLAIM = f"""
mutation($requestId: ID!, $amount: MoneyInput!, $files: [Upload!]!) {{
  submitFundClaim(requestId: $requestId, amount: $amount, files: $files) {{
    fundClaim {{ {CLAIM} }} {ERRORS}
  }}
}}"""
REVIEW_CLAIM = f"""
mutation($id: ID!, $approve: Boolean!, $comment: String) {{
  reviewFundClaim(id: $id, approve: $approve, comment: $comment) {{
    fundClaim {{ {CLAIM} }} {ERRORS}
  }}
}}"""
MARK_PAID = f"""
mutation($id: ID!, $reference: String!) {{
  markFundClaimPaid(id: $id, reference: $reference) {{ fundClaim {{ {CLAIM} }} {ERRORS} }}
}}"""
BUDGETS = f"""
query($first: Int, $after: String) {{
  mdfBudgets(first: $first, after: $after) {{ totalCount edges {{ node {{ {BUDGET} }} }} }}
}}"""
ALLOCATIONS = f"""
query($filter: MdfAllocationFilter) {{
  mdfAllocations(filter: $filter) {{ totalCount edges {{ node {{ {ALLOCATION} }} }} }}
}}"""
REQUESTS = f"""
query($filter: FundRequestFilter, $first: Int) {{
  fundRequests(filter: $filter, first: $first) {{
    totalCount edges {{ node {{ {REQUEST} claims {{ id status }} }} }}
  }}
}}"""
CLAIMS = f"""
query($filter: FundClaimFilter, $first: Int) {{
  fundClaims(filter: $filter, first: $first) {{ totalCount edges {{ node {{ {CLAIM} }} }} }}
}}"""

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def gid(type_name: str, pk: uuid.UUID) -> str:
    return encode_global_id(type_name, pk)


def money(amount: str, currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


@dataclass
class Cast:
    tenant: TenantWithAdmin
    manager: User
    employee: User
    partner_a: Partner
    partner_b: Partner
    rep_a: User
    rep_b: User


async def make_cast(database: Database) -> Cast:
    tenant = await make_tenant(database)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    partner_a = await make_partner(database, tenant.id)
    partner_b = await make_partner(database, tenant.id)
    rep_a = await make_user(database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner_a.id)
    rep_b = await make_user(
        database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner_b.id
    )
    return Cast(tenant, manager, employee, partner_a, partner_b, rep_a, rep_b)


class Api:
    """Calls the API as one user."""

    def __init__(self, client: httpx.AsyncClient, app: FastAPI, user: User) -> None:
        self.client, self.app, self.user = client, app, user

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await gql(
            self.client, query, variables, headers=bearer(self.app.state.issuer, self.user)
        )
        return body

    async def ok(self, query: str, field: str, **variables: Any) -> dict[str, Any]:
        """The mutation's payload, which must have no errors."""
        body = await self(query, **variables)
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"][field]
        assert payload["errors"] == [], payload
        return payload

    async def codes(self, query: str, field: str, **variables: Any) -> list[str | None]:
        """The user-error codes of a mutation expected to fail in its payload."""
        body = await self(query, **variables)
        assert "errors" not in body, body
        return [error["code"] for error in body["data"][field]["errors"]]

    async def upload(
        self,
        request_id: str,
        amount: dict[str, str],
        files: list[tuple[str, bytes, str]],
    ) -> dict[str, Any]:
        """`submitFundClaim` as a GraphQL multipart request (a plain JSON one without files:
        a multipart request needs at least one part)."""
        if not files:
            plain = await self(SUBMIT_CLAIM, requestId=request_id, amount=amount, files=[])
            assert "errors" not in plain, plain
            empty: dict[str, Any] = plain["data"]["submitFundClaim"]
            return empty
        operations = {
            "query": SUBMIT_CLAIM,
            "variables": {"requestId": request_id, "amount": amount, "files": [None] * len(files)},
        }
        mapping = {str(i): [f"variables.files.{i}"] for i in range(len(files))}
        response = await self.client.post(
            "/graphql",
            data={"operations": json.dumps(operations), "map": json.dumps(mapping)},
            files={str(i): file for i, file in enumerate(files)},
            headers=bearer(self.app.state.issuer, self.user),
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        payload: dict[str, Any] = body["data"]["submitFundClaim"]
        return payload


async def new_budget(admin: Api, amount: str, currency: str = "USD") -> dict[str, Any]:
    payload = await admin.ok(
        CREATE_BUDGET,
        "createMdfBudget",
        input={"name": "Q4 marketing", "period": "2026-Q4", "amount": money(amount, currency)},
    )
    budget: dict[str, Any] = payload["mdfBudget"]
    return budget


async def new_allocation(
    admin: Api, budget_id: str, partner: Partner, amount: str, currency: str = "USD"
) -> dict[str, Any]:
    payload = await admin.ok(
        ALLOCATE,
        "allocateMdf",
        budgetId=budget_id,
        partnerId=gid("Partner", partner.id),
        amount=money(amount, currency),
    )
    allocation: dict[str, Any] = payload["mdfAllocation"]
    return allocation


async def new_request(api: Api, allocation_id: str, amount: str) -> dict[str, Any]:
    payload = await api.ok(
        REQUEST_FUNDS,
        "requestFunds",
        input={
            "allocationId": allocation_id,
            "activity": "Trade show booth",
            "campaign": "Autumn expo",
            "amount": money(amount),
            "expectedOutcome": "40 qualified leads",
        },
    )
    request: dict[str, Any] = payload["fundRequest"]
    return request


async def counts(database: Database, tenant_id: uuid.UUID) -> dict[str, int]:
    """Rows of every MDF table (and partner notifications) in the tenant."""
    found: dict[str, int] = {}
    async with database.session(tenant_id) as session:
        for model in (
            MdfBudget,
            MdfAllocation,
            FundRequest,
            FundClaim,
            ClaimFile,
            MdfEvent,
            PartnerNotification,
        ):
            found[model.__tablename__] = int(
                await session.scalar(select(func.count()).select_from(model)) or 0
            )
    return found


async def allocation_row(database: Database, tenant_id: uuid.UUID, pk: uuid.UUID) -> MdfAllocation:
    async with database.session(tenant_id) as session:
        row = await session.get(MdfAllocation, (tenant_id, pk))
        assert row is not None
        return row


def dec(value: str) -> Decimal:
    return Decimal(value)
