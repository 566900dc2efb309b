"""Mutations of channel programs (admins): programs, levels with their benefits and
criteria, and partners' enrolments. The services are synchronous: they run through
`run_sync` in the request's transaction."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry

from prm.auth.principal import Role
from prm.errors import InvalidInput
from prm.graphql.context import Info
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.programs.inputs import (
    CreateChannelProgramInput,
    CreateProgramLevelInput,
    LevelCriterionInput,
    UpdateChannelProgramInput,
    UpdateProgramLevelInput,
)
from prm.graphql.programs.types import ChannelProgramType, ProgramEnrolmentType, ProgramLevelType
from prm.graphql.relay import encode_global_id, require_pk
from prm.partners import programs
from prm.partners.program_models import CriterionMetric

ADMIN = (Role.ADMIN,)


@strawberry.type
class ChannelProgramPayload(Payload):
    channel_program: ChannelProgramType | None = None


@strawberry.type
class ProgramLevelPayload(Payload):
    program_level: ProgramLevelType | None = None


@strawberry.type
class DeleteProgramLevelPayload(Payload):
    deleted_id: strawberry.ID | None = None


@strawberry.type
class ProgramEnrolmentPayload(Payload):
    program_enrolment: ProgramEnrolmentType | None = None


@strawberry.type
class WithdrawPartnerPayload(Payload):
    withdrawn_id: strawberry.ID | None = strawberry.field(
        default=None, description="The id of the enrolment that ended."
    )


def _criteria(given: list[LevelCriterionInput]) -> list[programs.CriterionSpec]:
    return [
        programs.CriterionSpec(
            metric=CriterionMetric(item.metric), minimum=item.minimum, quarters=item.quarters
        )
        for item in given
    ]


def _set(value: Any, camel: str) -> Any:
    if value is None:
        raise InvalidInput("must not be null", field=camel)
    return value


@strawberry.type
class Mutation:
    @mutation(ChannelProgramPayload, roles=ADMIN, description="Create a channel program.")
    async def create_channel_program(
        self, info: Info, input: CreateChannelProgramInput
    ) -> ChannelProgramPayload:
        principal = require_principal(info)
        row = await info.context.session.run_sync(
            lambda session: programs.create_program(
                session,
                principal,
                name=input.name,
                description=input.description,
                active=input.active,
                auto_enrol=input.auto_enrol,
                auto_enrol_countries=input.auto_enrol_countries,
                auto_enrol_capabilities=input.auto_enrol_capabilities,
                grace_days=input.grace_days,
            )
        )
        return ChannelProgramPayload(channel_program=ChannelProgramType.from_model(row))

    @mutation(
        ChannelProgramPayload,
        roles=ADMIN,
        description="Change a program; turning autoEnrol on enrols the matching partners now.",
    )
    async def update_channel_program(
        self, info: Info, id: strawberry.ID, input: UpdateChannelProgramInput
    ) -> ChannelProgramPayload:
        principal = require_principal(info)
        program_id = require_pk(id, "ChannelProgram", field="id")
        changes: programs.ProgramChanges = {}
        for field, camel in (
            ("name", "name"),
            ("active", "active"),
            ("auto_enrol", "autoEnrol"),
            ("auto_enrol_countries", "autoEnrolCountries"),
            ("auto_enrol_capabilities", "autoEnrolCapabilities"),
            ("grace_days", "graceDays"),
        ):
            value = getattr(input, field)
            if value is not strawberry.UNSET:
                changes[field] = _set(value, camel)  # type: ignore[literal-required]
        if input.description is not strawberry.UNSET:
            changes["description"] = input.description
        row = await info.context.session.run_sync(
            lambda session: programs.update_program(session, principal, program_id, changes)
        )
        return ChannelProgramPayload(channel_program=ChannelProgramType.from_model(row))

    @mutation(ProgramLevelPayload, roles=ADMIN, description="Add a level to a program.")
    async def create_program_level(
        self, info: Info, input: CreateProgramLevelInput
    ) -> ProgramLevelPayload:
        principal = require_principal(info)
        program_id = require_pk(input.program_id, "ChannelProgram", field="programId")
        tier_id = (
            require_pk(input.tier_id, "PartnerTier", field="tierId") if input.tier_id else None
        )
        allocation = (
            input.mdf_allocation.parse(field="mdfAllocation") if input.mdf_allocation else None
        )
        criteria = _criteria(input.criteria)
        row = await info.context.session.run_sync(
            lambda session: programs.create_level(
                session,
                principal,
                program_id=program_id,
                name=input.name,
                rank=input.rank,
                description=input.description,
                tier_id=tier_id,
                mdf_eligible=input.mdf_eligible,
                mdf_allocation=allocation,
                deal_protection_days=input.deal_protection_days,
                required_certification=input.required_certification,
                criteria=criteria,
            )
        )
        return ProgramLevelPayload(program_level=ProgramLevelType.from_model(row))

    @mutation(
        ProgramLevelPayload,
        roles=ADMIN,
        description="Change a level; `criteria`, when given, replaces them all.",
    )
    async def update_program_level(
        self, info: Info, id: strawberry.ID, input: UpdateProgramLevelInput
    ) -> ProgramLevelPayload:
        principal = require_principal(info)
        level_id = require_pk(id, "ProgramLevel", field="id")
        changes: programs.LevelChanges = {}
        for field, camel in (("name", "name"), ("rank", "rank"), ("mdf_eligible", "mdfEligible")):
            value = getattr(input, field)
            if value is not strawberry.UNSET:
                changes[field] = _set(value, camel)  # type: ignore[literal-required]
        for field in ("description", "deal_protection_days", "required_certification"):
            value = getattr(input, field)
            if value is not strawberry.UNSET:
                changes[field] = value  # type: ignore[literal-required]
        if input.tier_id is not strawberry.UNSET:
            changes["tier_id"] = (
                require_pk(input.tier_id, "PartnerTier", field="tierId") if input.tier_id else None
            )
        if input.mdf_allocation is not strawberry.UNSET:
            changes["mdf_allocation"] = (
                input.mdf_allocation.parse(field="mdfAllocation") if input.mdf_allocation else None
            )
        if input.criteria is not strawberry.UNSET:
            changes["criteria"] = _criteria(_set(input.criteria, "criteria"))
        row = await info.context.session.run_sync(
            lambda session: programs.update_level(session, principal, level_id, changes)
        )
        return ProgramLevelPayload(program_level=ProgramLevelType.from_model(row))

    @mutation(
        DeleteProgramLevelPayload,
        roles=ADMIN,
        description="Delete a level no partner is on (else CONFLICT).",
    )
    async def delete_program_level(
        self, info: Info, id: strawberry.ID
    ) -> DeleteProgramLevelPayload:
        principal = require_principal(info)
        level_id = require_pk(id, "ProgramLevel", field="id")
        row = await info.context.session.run_sync(
            lambda session: programs.delete_level(session, principal, level_id)
        )
        info.context.audit_object_ids.append(f"ProgramLevel:{row.id}")
        return DeleteProgramLevelPayload(
            deleted_id=strawberry.ID(encode_global_id("ProgramLevel", row.id))
        )

    @mutation(
        ProgramEnrolmentPayload,
        roles=ADMIN,
        description="Enrol a partner in a program at a level (default: the entry level).",
    )
    async def enrol_partner(
        self,
        info: Info,
        program_id: strawberry.ID,
        partner_id: strawberry.ID,
        level_id: strawberry.ID | None = None,
    ) -> ProgramEnrolmentPayload:
        principal = require_principal(info)
        program_pk = require_pk(program_id, "ChannelProgram", field="programId")
        partner_pk = require_pk(partner_id, "Partner", field="partnerId")
        level_pk: uuid.UUID | None = (
            require_pk(level_id, "ProgramLevel", field="levelId") if level_id else None
        )
        row = await info.context.session.run_sync(
            lambda session: programs.enrol_partner(
                session, principal, program_id=program_pk, partner_id=partner_pk, level_id=level_pk
            )
        )
        return ProgramEnrolmentPayload(program_enrolment=ProgramEnrolmentType.from_model(row))

    @mutation(
        ProgramEnrolmentPayload,
        roles=ADMIN,
        description="Put an enrolled partner on a level by hand (a reason is required).",
    )
    async def set_partner_level(
        self, info: Info, enrolment_id: strawberry.ID, level_id: strawberry.ID, reason: str
    ) -> ProgramEnrolmentPayload:
        principal = require_principal(info)
        enrolment_pk = require_pk(enrolment_id, "ProgramEnrolment", field="enrolmentId")
        level_pk = require_pk(level_id, "ProgramLevel", field="levelId")
        row = await info.context.session.run_sync(
            lambda session: programs.set_partner_level(
                session, principal, enrolment_pk, level_id=level_pk, reason=reason
            )
        )
        return ProgramEnrolmentPayload(program_enrolment=ProgramEnrolmentType.from_model(row))

    @mutation(
        WithdrawPartnerPayload,
        roles=ADMIN,
        description="Take a partner out of a program (a reason is required); its history stays.",
    )
    async def withdraw_partner(
        self, info: Info, enrolment_id: strawberry.ID, reason: str
    ) -> WithdrawPartnerPayload:
        principal = require_principal(info)
        enrolment_pk = require_pk(enrolment_id, "ProgramEnrolment", field="enrolmentId")
        row = await info.context.session.run_sync(
            lambda session: programs.withdraw_partner(
                session, principal, enrolment_pk, reason=reason
            )
        )
        info.context.audit_object_ids.append(f"ProgramEnrolment:{row.id}")
        return WithdrawPartnerPayload(
            withdrawn_id=strawberry.ID(encode_global_id("ProgramEnrolment", row.id))
        )
