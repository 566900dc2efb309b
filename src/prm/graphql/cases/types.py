"""Cases, queues, SLA policies and agent profiles as the API shows them.

A `Case` carries its customer's whole relationship (`customer`: value, loyalty, open
opportunities, recent activities) so the agent sees it without another query. Every
reference and nested list resolves through a per-request loader, so a page of cases with
all of it is a fixed number of statements."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from sqlalchemy import Select

from prm.crm.case_filters import CLOSED
from prm.crm.case_models import Case, CaseEvent, CaseQueue
from prm.crm.case_sla import SlaTimes
from prm.crm.models import Opportunity, OpportunityStage
from prm.employees.models import Employee
from prm.graphql.cases.enums import CaseKindEnum, CasePriorityEnum, CaseStatusEnum
from prm.graphql.cases.loaders import load_history, load_tenant_currency, load_visible_case
from prm.graphql.context import Context, Info
from prm.graphql.crm.enums import ChannelEnum
from prm.graphql.crm.loaders import Relation, nested_page
from prm.graphql.crm.types import (
    ACCOUNT_ACTIVITIES,
    TIMELINE,
    AccountType,
    ActivityType,
    ContactType,
    OpportunityType,
    load_account,
    load_contact,
)
from prm.graphql.customer_metrics.types import load_lifetime_value
from prm.graphql.employees.types import EmployeeType, load_employee
from prm.graphql.pagination import BY_ID, Connection
from prm.graphql.partners.types import PartnerType, load_partner
from prm.graphql.relay import Node, register_node
from prm.graphql.scalars import MoneyType

if TYPE_CHECKING:
    from prm.graphql.tenants.types import UserType


def _open_only(statement: Select[Opportunity], _: Any) -> Select[Opportunity]:
    return statement.where(
        Opportunity.stage.not_in((OpportunityStage.CLOSED_WON, OpportunityStage.CLOSED_LOST))
    )


OPEN_OPPORTUNITIES = Relation(
    "case.customer.openOpportunities",
    Opportunity,
    Opportunity.account_id,
    OpportunityType.from_model,
    narrow=_open_only,
)


@strawberry.type(name="CaseQueue", description="Where cases wait for an agent.")
class CaseQueueType(Node):
    name: str
    description: str | None
    skills: list[str] = strawberry.field(description="What an agent needs (all) to take them.")
    kinds: list[CaseKindEnum] = strawberry.field(  # type: ignore[valid-type]
        description="Case kinds routed here when opened without a queue."
    )
    created_at: datetime

    @classmethod
    def from_model(cls, queue: CaseQueue) -> CaseQueueType:
        return cls.from_row(queue, skills=list(queue.skills), kinds=list(queue.kinds))


async def load_queue(context: Context, pk: uuid.UUID) -> CaseQueueType | None:
    if context.principal is None:
        return None
    queue = await context.loaders.by_id(CaseQueue).load(pk)
    return CaseQueueType.from_model(queue) if queue else None


register_node(CaseQueueType)(load_queue)


@strawberry.type(name="CaseSlaPolicy", description="SLA timers for one priority.")
class CaseSlaPolicyType:
    priority: CasePriorityEnum  # type: ignore[valid-type]
    first_response_minutes: int
    resolution_minutes: int
    is_default: bool = strawberry.field(description="True: the tenant has not set its own.")

    @classmethod
    def of(cls, times: SlaTimes) -> CaseSlaPolicyType:
        return cls(
            priority=times.priority,
            first_response_minutes=times.first_response_minutes,
            resolution_minutes=times.resolution_minutes,
            is_default=times.is_default,
        )


@strawberry.type(name="AgentProfile", description="An employee as a service agent.")
class AgentProfileType:
    skills: list[str]
    case_capacity: int | None = strawberry.field(
        description="Open cases it may hold at once; null: not an agent."
    )
    employee_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def employee(self, info: Info) -> EmployeeType | None:
        return await load_employee(info.context, self.employee_pk)

    @classmethod
    def from_model(cls, employee: Employee) -> AgentProfileType:
        return cls(
            skills=list(employee.skills),
            case_capacity=employee.case_capacity,
            employee_pk=employee.id,
        )


@strawberry.type(name="CaseEvent", description="One line of a case's history.")
class CaseEventType:
    at: datetime
    kind: str = strawberry.field(
        description="opened, assigned, responded, escalated, resolved, reopened, closed."
    )
    from_status: CaseStatusEnum | None  # type: ignore[valid-type]
    to_status: CaseStatusEnum | None  # type: ignore[valid-type]
    note: str | None = strawberry.field(
        description="The response, reason or resolution (for an assignment: manual/automatic)."
    )
    actor_pk: strawberry.Private[uuid.UUID | None]
    assignee_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(description="The user who acted; null for automatic routing.")
    async def actor(
        self, info: Info
    ) -> Annotated[UserType, strawberry.lazy("prm.graphql.tenants.types")] | None:
        from prm.graphql.tenants.types import load_user

        return await load_user(info.context, self.actor_pk) if self.actor_pk else None

    @strawberry.field(description="Who held the case after the change.")
    async def assignee(self, info: Info) -> EmployeeType | None:
        return await load_employee(info.context, self.assignee_pk) if self.assignee_pk else None

    @classmethod
    def from_model(cls, row: CaseEvent) -> CaseEventType:
        return cls(
            at=row.created_at,
            kind=row.kind,
            from_status=row.from_status,
            to_status=row.to_status,
            note=row.note,
            actor_pk=row.actor_id,
            assignee_pk=row.assignee_id,
        )


@strawberry.type(
    name="CaseCustomer",
    description="The customer behind a case: the whole relationship at a glance.",
)
class CaseCustomerType:
    loyalty_score: float = strawberry.field(
        description="0..100 at opening (or reopening): tenure since the first won deal (40), "
        "repeat won deals (30) and recency of the last (30)."
    )
    account_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def account(self, info: Info) -> AccountType | None:
        return await load_account(info.context, self.account_pk)

    @strawberry.field(
        description="Realised lifetime value now (`Account.lifetimeValue`): won revenue in "
        "the tenant's default currency."
    )
    async def lifetime_value(self, info: Info) -> MoneyType | None:
        return await load_lifetime_value(info.context, self.account_pk)

    @strawberry.field(description="The account's open opportunities, oldest first.")
    async def open_opportunities(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[OpportunityType]:
        return await nested_page(
            info,
            OPEN_OPPORTUNITIES,
            self.account_pk,
            first=first,
            after=after,
            order=BY_ID,
            criteria="open",
        )

    @strawberry.field(description="Touch points with the account, newest first.")
    async def recent_activities(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ActivityType]:
        return await nested_page(
            info, ACCOUNT_ACTIVITIES, self.account_pk, first=first, after=after, order=TIMELINE
        )


@strawberry.type(
    name="Case", description="A customer's service request, complaint, return or question."
)
class CaseType(Node):
    number: int = strawberry.field(description="Per tenant, from 1, never repeated.")
    kind: CaseKindEnum  # type: ignore[valid-type]
    channel: ChannelEnum  # type: ignore[valid-type]
    priority: CasePriorityEnum  # type: ignore[valid-type]
    status: CaseStatusEnum  # type: ignore[valid-type]
    subject: str
    description: str | None
    escalation_level: int
    reopen_count: int
    loyalty_score: float | None = strawberry.field(description="The customer's, at opening.")
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    value: strawberry.Private[Decimal | None]
    account_pk: strawberry.Private[uuid.UUID]
    contact_pk: strawberry.Private[uuid.UUID | None]
    queue_pk: strawberry.Private[uuid.UUID | None]
    assignee_pk: strawberry.Private[uuid.UUID | None]
    partner_pk: strawberry.Private[uuid.UUID | None]

    @strawberry.field(
        description="True while open and past a due time (no first response, or not "
        "resolved, in time)."
    )
    def breached(self) -> bool:
        if self.status in CLOSED:
            return False
        now = datetime.now(UTC)
        late_response = (
            self.first_responded_at is None
            and self.first_response_due_at is not None
            and self.first_response_due_at < now
        )
        late_resolution = self.resolution_due_at is not None and self.resolution_due_at < now
        return late_response or late_resolution

    @strawberry.field(
        description="The customer's lifetime value when the case was opened (what routing "
        "ranked it by), in the tenant's default currency."
    )
    async def customer_value(self, info: Info) -> MoneyType | None:
        currency = await load_tenant_currency(info.context)
        return MoneyType.maybe(self.value, currency)

    @strawberry.field
    async def account(self, info: Info) -> AccountType | None:
        return await load_account(info.context, self.account_pk)

    @strawberry.field
    async def contact(self, info: Info) -> ContactType | None:
        return await load_contact(info.context, self.contact_pk) if self.contact_pk else None

    @strawberry.field
    async def queue(self, info: Info) -> CaseQueueType | None:
        return await load_queue(info.context, self.queue_pk) if self.queue_pk else None

    @strawberry.field(description="The agent holding the case (visible to staff).")
    async def assignee(self, info: Info) -> EmployeeType | None:
        return await load_employee(info.context, self.assignee_pk) if self.assignee_pk else None

    @strawberry.field(description="The partner whose user opened it.")
    async def partner(self, info: Info) -> PartnerType | None:
        return await load_partner(info.context, self.partner_pk) if self.partner_pk else None

    @strawberry.field(description="Every change, oldest first.")
    async def history(self, info: Info) -> list[CaseEventType]:
        return [CaseEventType.from_model(row) for row in await load_history(info.context, self.pk)]

    @strawberry.field(
        description="The customer's relationship: value, loyalty, deals, touch points."
    )
    def customer(self) -> CaseCustomerType:
        return CaseCustomerType(loyalty_score=self.loyalty_score or 0.0, account_pk=self.account_pk)

    @classmethod
    def from_model(cls, case: Case) -> CaseType:
        return cls.from_row(
            case,
            value=case.customer_value,
            account_pk=case.account_id,
            contact_pk=case.contact_id,
            queue_pk=case.queue_id,
            assignee_pk=case.assignee_id,
            partner_pk=case.partner_id,
        )


@register_node(CaseType)
async def load_case(context: Context, pk: uuid.UUID) -> CaseType | None:
    row = await load_visible_case(context, pk)
    return CaseType.from_model(row) if row else None
