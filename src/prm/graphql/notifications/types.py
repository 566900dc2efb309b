"""`PartnerNotification` as the API shows it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from prm.graphql.context import Context, Info
from prm.graphql.relay import Node, register_node
from prm.partners.models import PartnerNotification
from prm.partners.notifications import readable_notifications

if TYPE_CHECKING:
    from prm.graphql.partners.types import PartnerType


@strawberry.type(
    name="PartnerNotification",
    description="A message to a partner organisation: a level change, a pause of lead "
    "delivery, a fund or incentive decision. `kind` is a dotted event name "
    "(`program.level_changed`); `data` holds the ids it concerns.",
)
class PartnerNotificationType(Node):
    kind: str
    message: str
    data: JSON
    read_at: datetime | None
    created_at: datetime
    partner_pk: strawberry.Private[uuid.UUID]

    @strawberry.field
    async def partner(
        self, info: Info
    ) -> Annotated[PartnerType, strawberry.lazy("prm.graphql.partners.types")] | None:
        from prm.graphql.partners.types import load_partner  # imports this module's users

        return await load_partner(info.context, self.partner_pk)

    @classmethod
    def from_model(cls, row: PartnerNotification) -> PartnerNotificationType:
        return cls.from_row(row, partner_pk=row.partner_id)


@register_node(PartnerNotificationType)
async def _notification_node(context: Context, pk: uuid.UUID) -> PartnerNotificationType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_notifications(context.principal).where(PartnerNotification.id == pk)
    )
    return PartnerNotificationType.from_model(row) if row is not None else None
