"""`leadImport(id)` and `leadImports`: admins and managers; newest first."""

from __future__ import annotations

import strawberry

from prm.graphql.context import Info
from prm.graphql.lead_imports.types import LeadImportType, load_import, readable_imports
from prm.graphql.pagination import NEWEST_FIRST, Connection, paginate
from prm.graphql.permissions import require_principal
from prm.graphql.relay import pk_of


@strawberry.type
class Query:
    @strawberry.field(description="A lead import (admins and managers), else null.")
    async def lead_import(self, info: Info, id: strawberry.ID) -> LeadImportType | None:
        require_principal(info)
        pk = pk_of(id, "LeadImport")
        return await load_import(info.context, pk) if pk else None

    @strawberry.field(description="The tenant's lead imports, newest first (admins, managers).")
    async def lead_imports(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[LeadImportType]:
        return await paginate(
            info.context,
            readable_imports(require_principal(info)),
            to_node=LeadImportType.from_model,
            first=first,
            after=after,
            order=NEWEST_FIRST,
        )
