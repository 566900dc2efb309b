"""Batched look-ups of the CRM API: one SQL statement per relation per request.

- `load_visible(context, Model, pk)`: a row by id if the caller may see it (the
  `crm.visibility` rules), batched like `Loaders.by_id`.
- `nested_page(...)`: a page of a parent's children (an account's contacts, opportunities
  or timeline; a contact's or an opportunity's activities) for every parent on the page at
  once: `unnest(:parent_ids)` joined LATERAL to the keyset page of each parent, so each
  parent's page is one index range scan and a whole page of accounts is one statement.
  `totalCount`, when selected, is counted in the same statement (a second LATERAL).
- `load_account_totals`: open pipeline and won revenue per currency, one GROUP BY.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Select, Uuid, bindparam, func, null, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, aliased
from strawberry.dataloader import DataLoader

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)
from prm.auth.principal import Principal
from prm.crm import visibility
from prm.crm.models import Account, Activity, Contact, Opportunity
from prm.crm.pipeline import AccountTotals, account_totals
from prm.db.base import TenantOwned
from prm.graphql.context import Context, Info
from prm.graphql.pagination import (
    Connection,
    Ordering,
    connection_of,
    decode_cursor,
    order_page,
    page_size,
)

M = TypeVar("M", bound=TenantOwned)
T = TypeVar("T")

READABLE: dict[type[Any], Callable[[Principal], Select[Any]]] = {
    Account: visibility.readable_accounts,
    Contact: visibility.readable_contacts,
    Opportunity: visibility.readable_opportunities,
    Activity: visibility.readable_activities,
}


async def load_visible(context: Context, model: type[M], pk: uuid.UUID) -> M | None:
    """The row of `model` with id `pk` if the caller may see it, else None."""
    principal = context.principal
    if principal is None:
        return None

    def factory() -> DataLoader[uuid.UUID, M | None]:
        async def load(ids: Sequence[uuid.UUID]) -> list[M | None]:
            statement = READABLE[model](principal).where(model.id.in_(set(ids)))
            found = {row.id: row for row in await context.session.scalars(statement)}
            return [found.get(pk) for pk in ids]

        return DataLoader(load_fn=load)

    loader = context.loaders.custom(f"crm.visible.{model.__name__}", factory)
    return cast("M | None", await loader.load(pk))


@dataclass(frozen=True)
class Relation(Generic[M, T]):
    """Children of `model` whose `parent` column points at the parent, as nodes `T`."""

    name: str
    model: type[M]
    parent: InstrumentedAttribute[uuid.UUID | None] | InstrumentedAttribute[uuid.UUID]
    to_node: Callable[[M], T]
    narrow: Callable[[Select[M], Any], Select[M]] | None = None
    """Applies the criteria of the field's `filter` argument, if it has one."""


@dataclass(frozen=True)
class _Spec:
    """What one nested page asks for; parents asking the same share one statement."""

    limit: int
    after: tuple[Any, ...] | None
    order: str
    criteria: Hashable
    with_count: bool


@dataclass
class _Page(Generic[M]):
    rows: list[M]
    total: int | None


def selects_total_count(info: Info) -> bool:
    """Whether the query selects `totalCount` on the field being resolved.

    Reads the field's own AST (and the fragments it spreads) rather than
    `info.selected_fields`, which converts the whole sub-tree: this runs once per parent
    row of a page, so it must not cost more than the selection it inspects."""
    raw = info._raw_info
    return any(
        _selects(node.selection_set, "totalCount", raw.fragments) for node in raw.field_nodes
    )


def _selects(
    selection_set: SelectionSetNode | None, name: str, fragments: dict[str, FragmentDefinitionNode]
) -> bool:
    if selection_set is None:
        return False
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode) and selection.name.value == name:
            return True
        if isinstance(selection, InlineFragmentNode) and _selects(
            selection.selection_set, name, fragments
        ):
            return True
        if isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None and _selects(fragment.selection_set, name, fragments):
                return True
    return False


async def nested_page(
    info: Info,
    relation: Relation[M, T],
    parent_id: uuid.UUID,
    *,
    first: int | None,
    after: str | None,
    order: Ordering,
    criteria: Hashable = None,
) -> Connection[T]:
    """The connection of `parent_id`'s children, batched with every sibling parent's."""
    context = info.context
    limit = page_size(context, first)
    spec = _Spec(
        limit, decode_cursor(after, order), order.name, criteria, selects_total_count(info)
    )
    loader = cast(
        "_PagesLoader[M]",
        context.loaders.custom(
            f"crm.nested.{relation.name}", lambda: _PagesLoader(context, relation)
        ),
    )
    loader.orders.setdefault(order.name, order)
    page = await loader.load((parent_id, spec))

    async def count() -> int:
        if page.total is None:  # totalCount reached without being seen in the selection
            again = _Spec(limit, None, order.name, criteria, True)
            recount = await _fetch(context, relation, order, again, [parent_id])
            page.total = recount[parent_id].total
        return page.total or 0

    return connection_of(
        page.rows, limit=limit, after=after, order=order, to_node=relation.to_node, count=count
    )


class _PagesLoader(DataLoader[tuple[uuid.UUID, _Spec], _Page[M]]):
    """Pages of one relation, keyed by parent and spec; one statement per distinct spec
    (in practice one per relation: sibling fields ask alike)."""

    def __init__(self, context: Context, relation: Relation[M, Any]) -> None:
        self.orders: dict[str, Ordering] = {}

        async def load(keys: Sequence[tuple[uuid.UUID, _Spec]]) -> list[_Page[M]]:
            groups: dict[_Spec, list[uuid.UUID]] = {}
            for parent_id, spec in keys:
                groups.setdefault(spec, []).append(parent_id)
            pages: dict[tuple[uuid.UUID, _Spec], _Page[M]] = {}
            for spec, parent_ids in groups.items():
                order = self.orders[spec.order]
                fetched = await _fetch(context, relation, order, spec, parent_ids)
                pages.update({(parent_id, spec): page for parent_id, page in fetched.items()})
            return [pages[key] for key in keys]

        super().__init__(load_fn=load)


async def _fetch(
    context: Context,
    relation: Relation[M, T],
    order: Ordering,
    spec: _Spec,
    parent_ids: list[uuid.UUID],
) -> dict[uuid.UUID, _Page[M]]:
    principal = context.principal
    pages: dict[uuid.UUID, _Page[M]] = {
        pk: _Page([], 0 if spec.with_count else None) for pk in parent_ids
    }
    if principal is None:
        return pages
    model = relation.model
    parents = (
        func.unnest(bindparam("parent_ids", list(dict.fromkeys(parent_ids)), type_=ARRAY(Uuid)))
        .table_valued("parent_id")
        .render_derived(name="parents")
    )
    children = READABLE[model](principal)
    if relation.narrow is not None and spec.criteria is not None:
        children = relation.narrow(children, spec.criteria)
    children = children.where(relation.parent == parents.c.parent_id)
    conditions = children.whereclause
    assert conditions is not None  # the readable statement and the parent match at least
    page = order_page(children, order, spec.after, spec.limit).lateral("page")
    row = aliased(model, page)
    if spec.with_count:
        counted = (
            select(func.count().label("total"))
            .select_from(model)
            .where(conditions)
            .lateral("counted")
        )
        statement = (
            select(parents.c.parent_id, counted.c.total, row)
            .select_from(parents)
            .join(counted, true())
            .outerjoin(page, true())
        )
    else:
        statement = (
            select(parents.c.parent_id, null().label("total"), row)
            .select_from(parents)
            .join(page, true())
        )
    for parent_id, total, child in await context.session.execute(statement):
        found = pages[parent_id]
        if total is not None:
            found.total = int(total)
        if child is not None:
            found.rows.append(child)
    key = _sort_key(order)
    for found in pages.values():
        found.rows.sort(key=key, reverse=order.descending)
    return pages


def _sort_key(order: Ordering) -> Callable[[Any], tuple[Any, ...]]:
    """The page's order, restored in Python (a LATERAL join's output has none)."""
    column = order.column.key if order.column is not None else None
    if column is None:
        return lambda row: (row.id,)
    return lambda row: (getattr(row, column), row.id)


async def load_account_totals(context: Context, account_id: uuid.UUID) -> AccountTotals:
    principal = context.principal
    if principal is None:
        return AccountTotals()

    def factory() -> DataLoader[uuid.UUID, AccountTotals]:
        async def load(ids: Sequence[uuid.UUID]) -> list[AccountTotals]:
            totals = await account_totals(context.session, principal, list(dict.fromkeys(ids)))
            return [totals[pk] for pk in ids]

        return DataLoader(load_fn=load)

    loader = context.loaders.custom("crm.account_totals", factory)
    return cast("AccountTotals", await loader.load(account_id))
