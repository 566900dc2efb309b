"""Mutations of customer service: queue and SLA setup, agent profiles, and a case's
life (open, assign, respond, escalate, resolve, reopen, close). Each is one transaction;
the rules live in `prm.crm.cases`, `prm.crm.case_setup` and `prm.crm.case_sla`."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.crm import case_setup, cases
from prm.crm.case_models import CaseKind, CasePriority
from prm.crm.case_sla import set_sla_policy
from prm.crm.models import Channel
from prm.graphql.cases.enums import CasePriorityEnum
from prm.graphql.cases.inputs import CreateCaseQueueInput, OpenCaseInput, UpdateCaseQueueInput
from prm.graphql.cases.types import AgentProfileType, CaseQueueType, CaseSlaPolicyType, CaseType
from prm.graphql.context import Info
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk

ADMIN = (Role.ADMIN,)
MANAGERS = (Role.ADMIN, Role.MANAGER)


@strawberry.type
class CaseQueuePayload(Payload):
    queue: CaseQueueType | None = None


@strawberry.type
class CaseSlaPolicyPayload(Payload):
    policy: CaseSlaPolicyType | None = None


@strawberry.type
class AgentProfilePayload(Payload):
    profile: AgentProfileType | None = None


@strawberry.type
class CasePayload(Payload):
    case: CaseType | None = None


@strawberry.type
class Mutation:
    @mutation(CaseQueuePayload, roles=MANAGERS, description="Add a case queue.")
    async def create_case_queue(self, info: Info, input: CreateCaseQueueInput) -> CaseQueuePayload:
        queue = await case_setup.create_queue(
            info.context.session,
            require_principal(info),
            name=input.name,
            description=input.description,
            skills=input.skills,
            kinds=[CaseKind(kind) for kind in input.kinds],
        )
        return CaseQueuePayload(queue=CaseQueueType.from_model(queue))

    @mutation(CaseQueuePayload, roles=MANAGERS, description="Change a case queue.")
    async def update_case_queue(
        self, info: Info, id: strawberry.ID, input: UpdateCaseQueueInput
    ) -> CaseQueuePayload:
        queue = await case_setup.update_queue(
            info.context.session,
            require_principal(info),
            require_pk(id, "CaseQueue", field="id"),
            name=input.name,
            description=input.description,
            skills=input.skills,
            kinds=[CaseKind(kind) for kind in input.kinds] if input.kinds is not None else None,
        )
        return CaseQueuePayload(queue=CaseQueueType.from_model(queue))

    @mutation(
        CaseSlaPolicyPayload,
        roles=ADMIN,
        description="Set the tenant's SLA timers for a priority (minutes from opening); "
        "open cases keep theirs.",
    )
    async def set_case_sla_policy(
        self,
        info: Info,
        priority: CasePriorityEnum,  # type: ignore[valid-type]
        first_response_minutes: int,
        resolution_minutes: int,
    ) -> CaseSlaPolicyPayload:
        times = await set_sla_policy(
            info.context.session,
            require_principal(info).tenant_id,
            priority=CasePriority(priority),
            first_response_minutes=first_response_minutes,
            resolution_minutes=resolution_minutes,
        )
        return CaseSlaPolicyPayload(policy=CaseSlaPolicyType.of(times))

    @mutation(
        AgentProfilePayload,
        roles=MANAGERS,
        description="Make an employee a service agent (capacity set) or not (null), with its "
        "skills; waiting cases are routed at once.",
    )
    async def set_agent_profile(
        self,
        info: Info,
        employee_id: strawberry.ID,
        skills: list[str],
        case_capacity: int | None = None,
    ) -> AgentProfilePayload:
        employee = await case_setup.set_agent_profile(
            info.context.session,
            require_principal(info),
            require_pk(employee_id, "Employee", field="employeeId"),
            skills=skills,
            case_capacity=case_capacity,
        )
        return AgentProfilePayload(profile=AgentProfileType.from_model(employee))

    @mutation(
        CasePayload,
        description="Open a case for an account (staff, or a partner user for its partner's "
        "accounts) and route it to the best-suited agent.",
    )
    async def open_case(self, info: Info, input: OpenCaseInput) -> CasePayload:
        case = await cases.open_case(
            info.context.session,
            require_principal(info),
            account_id=require_pk(input.account_id, "Account", field="accountId"),
            contact_id=(
                require_pk(input.contact_id, "Contact", field="contactId")
                if input.contact_id is not None
                else None
            ),
            kind=CaseKind(input.kind),
            channel=Channel(input.channel),
            priority=CasePriority(input.priority),
            subject=input.subject,
            description=input.description,
            queue_id=(
                require_pk(input.queue_id, "CaseQueue", field="queueId")
                if input.queue_id is not None
                else None
            ),
        )
        return CasePayload(case=CaseType.from_model(case))

    @mutation(CasePayload, roles=MANAGERS, description="Give a case to an agent.")
    async def assign_case(
        self, info: Info, id: strawberry.ID, employee_id: strawberry.ID
    ) -> CasePayload:
        case = await cases.assign_case(
            info.context.session,
            require_principal(info),
            require_pk(id, "Case", field="id"),
            employee_id=require_pk(employee_id, "Employee", field="employeeId"),
        )
        return CasePayload(case=CaseType.from_model(case))

    @mutation(CasePayload, description="Answer the customer (the first answer stops that timer).")
    async def respond_to_case(self, info: Info, id: strawberry.ID, message: str) -> CasePayload:
        case = await cases.respond_to_case(
            info.context.session,
            require_principal(info),
            require_pk(id, "Case", field="id"),
            message=message,
        )
        return CasePayload(case=CaseType.from_model(case))

    @mutation(
        CasePayload,
        description="Escalate: one level up, priority one step up, timers tightened.",
    )
    async def escalate_case(self, info: Info, id: strawberry.ID, reason: str) -> CasePayload:
        case = await cases.escalate_case(
            info.context.session,
            require_principal(info),
            require_pk(id, "Case", field="id"),
            reason=reason,
        )
        return CasePayload(case=CaseType.from_model(case))

    @mutation(CasePayload, description="Mark a case resolved; its agent's slot frees.")
    async def resolve_case(self, info: Info, id: strawberry.ID, resolution: str) -> CasePayload:
        case = await cases.resolve_case(
            info.context.session,
            require_principal(info),
            require_pk(id, "Case", field="id"),
            resolution=resolution,
        )
        return CasePayload(case=CaseType.from_model(case))

    @mutation(CasePayload, description="Reopen a resolved or closed case (within 30 days).")
    async def reopen_case(self, info: Info, id: strawberry.ID, reason: str) -> CasePayload:
        case = await cases.reopen_case(
            info.context.session,
            require_principal(info),
            require_pk(id, "Case", field="id"),
            reason=reason,
        )
        return CasePayload(case=CaseType.from_model(case))

    @mutation(CasePayload, description="Close a case.")
    async def close_case(self, info: Info, id: strawberry.ID) -> CasePayload:
        case = await cases.close_case(
            info.context.session, require_principal(info), require_pk(id, "Case", field="id")
        )
        return CasePayload(case=CaseType.from_model(case))
