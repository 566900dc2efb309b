"""Factories of channel-program rows (programs, levels, enrolments), written directly so
tests of any program feature can build them without the programs API."""

from __future__ import annotations

import uuid

from prm.db.engine import Database
from prm.partners.program_models import (
    ChannelProgram,
    EnrolmentSource,
    ProgramEnrolment,
    ProgramLevel,
)
from tests.factories import unique


async def make_program(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    name: str | None = None,
    grace_days: int = 30,
    auto_enrol: bool = False,
) -> ChannelProgram:
    async with db.session(tenant_id) as session:
        program = ChannelProgram(
            tenant_id=tenant_id,
            name=name or unique("program"),
            active=True,
            auto_enrol=auto_enrol,
            auto_enrol_countries=[],
            auto_enrol_capabilities=[],
            grace_days=grace_days,
        )
        session.add(program)
    return program


async def make_level(
    db: Database,
    tenant_id: uuid.UUID,
    program_id: uuid.UUID,
    *,
    rank: int = 1,
    name: str | None = None,
    tier_id: uuid.UUID | None = None,
    required_certification: str | None = None,
) -> ProgramLevel:
    async with db.session(tenant_id) as session:
        level = ProgramLevel(
            tenant_id=tenant_id,
            program_id=program_id,
            name=name or unique("level"),
            rank=rank,
            tier_id=tier_id,
            mdf_eligible=False,
            required_certification=required_certification,
        )
        session.add(level)
    return level


async def enrol(
    db: Database,
    tenant_id: uuid.UUID,
    *,
    program_id: uuid.UUID,
    partner_id: uuid.UUID,
    level_id: uuid.UUID,
    source: EnrolmentSource = EnrolmentSource.ADMIN,
) -> ProgramEnrolment:
    async with db.session(tenant_id) as session:
        enrolment = ProgramEnrolment(
            tenant_id=tenant_id,
            program_id=program_id,
            partner_id=partner_id,
            level_id=level_id,
            source=source,
        )
        session.add(enrolment)
    return enrolment


async def make_enrolled_program(
    db: Database, tenant_id: uuid.UUID, *partner_ids: uuid.UUID
) -> tuple[ChannelProgram, ProgramLevel]:
    """A program with one level, the given partners enrolled at it."""
    program = await make_program(db, tenant_id)
    level = await make_level(db, tenant_id, program.id)
    for partner_id in partner_ids:
        await enrol(db, tenant_id, program_id=program.id, partner_id=partner_id, level_id=level.id)
    return program, level
