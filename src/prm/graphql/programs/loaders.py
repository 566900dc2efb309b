"""Batched look-ups behind channel programs' nested fields: one statement for a whole
page of parents (levels of many programs, criteria of many levels, progress and history
of many enrolments), however long the page."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.orm import aliased
from strawberry.dataloader import DataLoader

from prm.graphql.context import Context
from prm.partners.program_metrics import (
    CriterionValue,
    certifications_statement,
    criterion_values,
    criterion_values_statement,
)
from prm.partners.program_models import (
    LevelChange,
    LevelChangeKind,
    LevelCriterion,
    ProgramLevel,
)
from prm.tenants.models import Tenant

PartnerKey = tuple[uuid.UUID, uuid.UUID]
"""(program id, partner id): what history lines are filed under."""
HistoryKey = tuple[uuid.UUID, uuid.UUID, int, uuid.UUID | None]
"""(program id, partner id, rows wanted, id after which the page starts or None)."""
LEVEL_KINDS = (
    LevelChangeKind.ENROLLED,
    LevelChangeKind.PROMOTED,
    LevelChangeKind.DEMOTED,
    LevelChangeKind.SET,
)


def _tenant(context: Context) -> uuid.UUID | None:
    return context.principal.tenant_id if context.principal else None


def levels_by_program(context: Context) -> DataLoader[uuid.UUID, list[ProgramLevel]]:
    """Each program's levels by rank, ascending."""

    async def load(keys: Sequence[uuid.UUID]) -> list[list[ProgramLevel]]:
        tenant_id = _tenant(context)
        if tenant_id is None:
            return [[] for _ in keys]
        rows = await context.session.scalars(
            select(ProgramLevel)
            .where(ProgramLevel.tenant_id == tenant_id, ProgramLevel.program_id.in_(set(keys)))
            .order_by(ProgramLevel.program_id, ProgramLevel.rank)
        )
        found: dict[uuid.UUID, list[ProgramLevel]] = defaultdict(list)
        for row in rows:
            found[row.program_id].append(row)
        return [found.get(key, []) for key in keys]

    return context.loaders.custom("programs.levels", lambda: DataLoader(load_fn=load))


def criteria_by_level(context: Context) -> DataLoader[uuid.UUID, list[LevelCriterion]]:
    """Each level's criteria, in metric order."""

    async def load(keys: Sequence[uuid.UUID]) -> list[list[LevelCriterion]]:
        tenant_id = _tenant(context)
        if tenant_id is None:
            return [[] for _ in keys]
        rows = await context.session.scalars(
            select(LevelCriterion)
            .where(LevelCriterion.tenant_id == tenant_id, LevelCriterion.level_id.in_(set(keys)))
            .order_by(LevelCriterion.level_id, LevelCriterion.metric)
        )
        found: dict[uuid.UUID, list[LevelCriterion]] = defaultdict(list)
        for row in rows:
            found[row.level_id].append(row)
        return [found.get(key, []) for key in keys]

    return context.loaders.custom("programs.criteria", lambda: DataLoader(load_fn=load))


@dataclass
class Standing:
    """An enrolment's criterion values and certifications, for every level of its program."""

    values: dict[uuid.UUID, list[CriterionValue]] = field(default_factory=dict)
    certified: dict[uuid.UUID, bool] = field(default_factory=dict)


def standings(context: Context) -> DataLoader[uuid.UUID, Standing]:
    """Criterion values (trailing quarters up to now) of many enrolments: two statements."""

    async def load(keys: Sequence[uuid.UUID]) -> list[Standing]:
        tenant_id = _tenant(context)
        found: dict[uuid.UUID, Standing] = defaultdict(Standing)
        if tenant_id is None:
            return [Standing() for _ in keys]
        now = datetime.now(UTC)
        ids = set(keys)
        values = await context.session.execute(
            criterion_values_statement(tenant_id, now, enrolment_ids=ids)
        )
        for value in criterion_values(values):
            found[value.enrolment_id].values.setdefault(value.level_id, []).append(value)
        certs = await context.session.execute(
            certifications_statement(tenant_id, now, enrolment_ids=ids)
        )
        for row in certs:
            found[row.enrolment_id].certified[row.level_id] = bool(row.held)
        return [found[key] for key in keys]

    return context.loaders.custom("programs.standings", lambda: DataLoader(load_fn=load))


def level_since(context: Context) -> DataLoader[PartnerKey, datetime | None]:
    """When each partner was last put on a level of a program (its latest history line
    that set one)."""

    async def load(keys: Sequence[PartnerKey]) -> list[datetime | None]:
        tenant_id = _tenant(context)
        if tenant_id is None:
            return [None] * len(keys)
        rows = await context.session.execute(
            select(LevelChange.program_id, LevelChange.partner_id, func.max(LevelChange.created_at))
            .where(
                LevelChange.tenant_id == tenant_id,
                tuple_(LevelChange.program_id, LevelChange.partner_id).in_(list(set(keys))),
                LevelChange.kind.in_(LEVEL_KINDS),
            )
            .group_by(LevelChange.program_id, LevelChange.partner_id)
        )
        found = {(program_id, partner_id): at for program_id, partner_id, at in rows}
        return [found.get(key) for key in keys]

    return context.loaders.custom("programs.level_since", lambda: DataLoader(load_fn=load))


def history_page(context: Context) -> DataLoader[HistoryKey, list[LevelChange]]:
    """History lines of many (program, partner) pairs, newest first, `limit` rows after
    `after`: a window function numbers each pair's rows; one statement per distinct
    (limit, after) in the batch."""

    async def load(keys: Sequence[HistoryKey]) -> list[list[LevelChange]]:
        tenant_id = _tenant(context)
        if tenant_id is None:
            return [[] for _ in keys]
        groups: dict[tuple[int, uuid.UUID | None], set[PartnerKey]] = defaultdict(set)
        for program_id, partner_id, limit, after in keys:
            groups[(limit, after)].add((program_id, partner_id))
        found: dict[HistoryKey, list[LevelChange]] = defaultdict(list)
        for (limit, after), pairs in groups.items():
            number = (
                func.row_number()
                .over(
                    partition_by=(LevelChange.program_id, LevelChange.partner_id),
                    order_by=LevelChange.id.desc(),
                )
                .label("number")
            )
            inner = select(LevelChange, number).where(
                LevelChange.tenant_id == tenant_id,
                tuple_(LevelChange.program_id, LevelChange.partner_id).in_(list(pairs)),
            )
            if after is not None:
                inner = inner.where(LevelChange.id < after)
            numbered = inner.subquery()
            change = aliased(LevelChange, numbered)
            rows = await context.session.scalars(
                select(change)
                .where(and_(numbered.c.number <= limit))
                .order_by(change.program_id, change.partner_id, change.id.desc())
            )
            for row in rows:
                found[(row.program_id, row.partner_id, limit, after)].append(row)
        return [found.get(key, []) for key in keys]

    return context.loaders.custom("programs.history", lambda: DataLoader(load_fn=load))


def history_counts(context: Context) -> DataLoader[PartnerKey, int]:
    """How many history lines each (program, partner) pair has, in one GROUP BY."""

    async def load(keys: Sequence[PartnerKey]) -> list[int]:
        tenant_id = _tenant(context)
        if tenant_id is None:
            return [0] * len(keys)
        rows = await context.session.execute(
            select(LevelChange.program_id, LevelChange.partner_id, func.count())
            .where(
                LevelChange.tenant_id == tenant_id,
                tuple_(LevelChange.program_id, LevelChange.partner_id).in_(list(set(keys))),
            )
            .group_by(LevelChange.program_id, LevelChange.partner_id)
        )
        found = {(program_id, partner_id): int(count) for program_id, partner_id, count in rows}
        return [found.get(key, 0) for key in keys]

    return context.loaders.custom("programs.history_counts", lambda: DataLoader(load_fn=load))


def tenant_currency(context: Context) -> DataLoader[uuid.UUID, str]:
    """The tenant's default currency (level MDF allocations are in it)."""

    async def load(keys: Sequence[uuid.UUID]) -> list[str]:
        rows = await context.session.execute(
            select(Tenant.id, Tenant.default_currency).where(Tenant.id.in_(set(keys)))
        )
        found = {tenant_id: currency for tenant_id, currency in rows}
        return [found.get(key) or "USD" for key in keys]

    return context.loaders.custom("programs.currency", lambda: DataLoader(load_fn=load))
