"""Per-request DataLoaders: N sibling look-ups become one query.

`Loaders.by_id(Model)` returns the request's loader of tenant-owned rows by primary key,
created on first use; any domain's model works without writing a loader. Keys are scoped
to the principal's tenant in the query (RLS would also stop a stray key). A domain that
needs another shape (rows by foreign key, counts) adds a keyed loader with
`Loaders.custom(name, factory)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from prm.db.base import TenantOwned

M = TypeVar("M", bound=TenantOwned)


class Loaders:
    def __init__(self, session: Callable[[], AsyncSession], tenant_id: uuid.UUID | None) -> None:
        self._session = session
        self._tenant_id = tenant_id
        self._loaders: dict[object, DataLoader[Any, Any]] = {}

    def by_id(self, model: type[M]) -> DataLoader[uuid.UUID, M | None]:
        loader = self._loaders.get(model)
        if loader is None:
            loader = DataLoader(load_fn=self._batch_by_id(model))
            self._loaders[model] = loader
        return cast("DataLoader[uuid.UUID, M | None]", loader)

    def custom(
        self, name: str, factory: Callable[[], DataLoader[Any, Any]]
    ) -> DataLoader[Any, Any]:
        loader = self._loaders.get(name)
        if loader is None:
            loader = factory()
            self._loaders[name] = loader
        return loader

    def prime(self, model: type[M], row: M) -> None:
        """Seed the cache with a row the resolver already holds."""
        self.by_id(model).prime(row.id, row)

    def clear(self) -> None:
        """Forget every cached row: after a rollback they are stale."""
        for loader in self._loaders.values():
            loader.clear_all()

    def _batch_by_id(self, model: type[M]) -> Callable[[Sequence[uuid.UUID]], Any]:
        async def load(ids: Sequence[uuid.UUID]) -> list[M | None]:
            if self._tenant_id is None:
                return [None] * len(ids)
            rows = await self._session().scalars(
                select(model).where(model.tenant_id == self._tenant_id, model.id.in_(set(ids)))
            )
            found = {row.id: row for row in rows}
            return [found.get(key) for key in ids]

        return load
