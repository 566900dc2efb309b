"""Queries of channel programs: `channelPrograms` and `programEnrolments`, each scoped by
the domain's readable statement (admins and managers see all of the tenant, partner
users their own partner's)."""

from __future__ import annotations

import strawberry
from sqlalchemy import false

from prm.graphql.context import Info
from prm.graphql.pagination import Connection, Ordering, paginate
from prm.graphql.permissions import require_principal
from prm.graphql.programs.inputs import ProgramEnrolmentFilter
from prm.graphql.programs.types import ChannelProgramType, ProgramEnrolmentType
from prm.graphql.relay import pk_of
from prm.partners.program_models import ChannelProgram, ProgramEnrolment
from prm.partners.programs import readable_enrolments, readable_programs

BY_NAME = Ordering.by(ChannelProgram.name)


@strawberry.type
class Query:
    @strawberry.field(
        description="Channel programs by name: all of them for admins and managers, those "
        "its partner is enrolled in for a partner user."
    )
    async def channel_programs(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[ChannelProgramType]:
        principal = require_principal(info)
        return await paginate(
            info.context,
            readable_programs(principal),
            to_node=ChannelProgramType.from_model,
            first=first,
            after=after,
            order=BY_NAME,
        )

    @strawberry.field(
        description="Enrolments in creation order: every partner's for admins and managers, "
        "its own partner's for a partner user. An id the caller may not see matches nothing."
    )
    async def program_enrolments(
        self,
        info: Info,
        filter: ProgramEnrolmentFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ProgramEnrolmentType]:
        principal = require_principal(info)
        statement = readable_enrolments(principal)
        if filter is not None:
            for given, type_name, column in (
                (filter.program_id, "ChannelProgram", ProgramEnrolment.program_id),
                (filter.partner_id, "Partner", ProgramEnrolment.partner_id),
            ):
                if given is None:
                    continue
                pk = pk_of(given, type_name)
                statement = statement.where(false() if pk is None else column == pk)
        return await paginate(
            info.context,
            statement,
            to_node=ProgramEnrolmentType.from_model,
            first=first,
            after=after,
        )
