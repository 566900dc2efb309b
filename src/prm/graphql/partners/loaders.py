"""Batched look-ups behind `Partner.users`: one query for the pages of every partner in a
list, one for their counts, however many partners the list holds."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from strawberry.dataloader import DataLoader

from prm.graphql.context import Context
from prm.tenants.models import User

UsersPageKey = tuple[uuid.UUID, int, uuid.UUID | None]
"""(partner id, rows wanted, id after which the page starts or None)."""


def partner_users_page(context: Context) -> DataLoader[UsersPageKey, list[User]]:
    """Users of each partner in id order, `limit` rows after `after`, for many partners at
    once: a window function numbers each partner's rows, one statement per distinct
    (limit, after) in the batch (in practice one)."""

    async def load(keys: Sequence[UsersPageKey]) -> list[list[User]]:
        principal = context.principal
        if principal is None:
            return [[] for _ in keys]
        groups: dict[tuple[int, uuid.UUID | None], set[uuid.UUID]] = defaultdict(set)
        for partner_id, limit, after in keys:
            groups[(limit, after)].add(partner_id)
        found: dict[UsersPageKey, list[User]] = defaultdict(list)
        for (limit, after), partner_ids in groups.items():
            number = (
                func.row_number()
                .over(partition_by=User.partner_id, order_by=User.id)
                .label("number")
            )
            inner = select(User, number).where(
                User.tenant_id == principal.tenant_id, User.partner_id.in_(partner_ids)
            )
            if after is not None:
                inner = inner.where(User.id > after)
            numbered = inner.subquery()
            user = aliased(User, numbered)
            rows = await context.session.scalars(
                select(user).where(numbered.c.number <= limit).order_by(user.partner_id, user.id)
            )
            for row in rows:
                assert row.partner_id is not None
                found[(row.partner_id, limit, after)].append(row)
        return [found.get(key, []) for key in keys]

    return context.loaders.custom("partners.users_page", lambda: DataLoader(load_fn=load))


def partner_user_counts(context: Context) -> DataLoader[uuid.UUID, int]:
    """How many users each partner has, for many partners in one GROUP BY."""

    async def load(keys: Sequence[uuid.UUID]) -> list[int]:
        principal = context.principal
        if principal is None:
            return [0] * len(keys)
        rows = await context.session.execute(
            select(User.partner_id, func.count())
            .where(User.tenant_id == principal.tenant_id, User.partner_id.in_(set(keys)))
            .group_by(User.partner_id)
        )
        counts = {partner_id: int(count) for partner_id, count in rows}
        return [counts.get(key, 0) for key in keys]

    return context.loaders.custom("partners.user_counts", lambda: DataLoader(load_fn=load))
