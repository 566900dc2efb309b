"""Batched look-ups of the cases API: one statement per relation per request, whatever
the page size."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import cast

from sqlalchemy import select
from strawberry.dataloader import DataLoader

from prm.crm.case_models import Case, CaseEvent
from prm.crm.case_visibility import readable_cases
from prm.graphql.context import Context
from prm.tenants.models import Tenant


async def load_visible_case(context: Context, pk: uuid.UUID) -> Case | None:
    principal = context.principal
    if principal is None:
        return None

    def factory() -> DataLoader[uuid.UUID, Case | None]:
        async def load(ids: Sequence[uuid.UUID]) -> list[Case | None]:
            rows = await context.session.scalars(
                readable_cases(principal).where(Case.id.in_(set(ids)))
            )
            found = {row.id: row for row in rows}
            return [found.get(key) for key in ids]

        return DataLoader(load_fn=load)

    loader = context.loaders.custom("cases.visible", factory)
    return cast("Case | None", await loader.load(pk))


async def load_history(context: Context, case_pk: uuid.UUID) -> list[CaseEvent]:
    """A case's events, oldest first (the case itself was checked visible)."""
    tenant_id = context.principal.tenant_id if context.principal else None

    def factory() -> DataLoader[uuid.UUID, list[CaseEvent]]:
        async def load(ids: Sequence[uuid.UUID]) -> list[list[CaseEvent]]:
            found: dict[uuid.UUID, list[CaseEvent]] = {pk: [] for pk in ids}
            rows = await context.session.scalars(
                select(CaseEvent)
                .where(CaseEvent.tenant_id == tenant_id, CaseEvent.case_id.in_(set(ids)))
                .order_by(CaseEvent.case_id, CaseEvent.created_at, CaseEvent.id)
            )
            for row in rows:
                found[row.case_id].append(row)
            return [found[pk] for pk in ids]

        return DataLoader(load_fn=load)

    loader = context.loaders.custom("cases.history", factory)
    return cast("list[CaseEvent]", await loader.load(case_pk))


async def load_tenant_currency(context: Context) -> str | None:
    """The tenant's default currency: what case values are counted in."""
    principal = context.principal
    if principal is None:
        return None

    def factory() -> DataLoader[uuid.UUID, str | None]:
        async def load(ids: Sequence[uuid.UUID]) -> list[str | None]:
            rows = await context.session.execute(
                select(Tenant.id, Tenant.default_currency).where(Tenant.id.in_(set(ids)))
            )
            found = {pk: currency for pk, currency in rows}
            return [found.get(key) for key in ids]

        return DataLoader(load_fn=load)

    loader = context.loaders.custom("cases.tenant_currency", factory)
    return cast("str | None", await loader.load(principal.tenant_id))
