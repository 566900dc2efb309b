"""`webhookEndpoints`, `webhookEventTypes` and `webhookDeliveries` (tenant admins)."""

from __future__ import annotations

import strawberry
from sqlalchemy import false

from prm.auth.principal import Role
from prm.events.bus import EVENT_TYPES
from prm.graphql.context import Info
from prm.graphql.pagination import Connection, OrderDirection, Ordering, paginate
from prm.graphql.permissions import require_roles
from prm.graphql.relay import pk_of
from prm.graphql.webhooks.inputs import WebhookDeliveryFilter
from prm.graphql.webhooks.types import (
    WebhookDeliveryType,
    WebhookEndpointType,
    WebhookEventTypeType,
)
from prm.webhooks import service
from prm.webhooks.models import DeliveryStatus, WebhookDelivery

NEWEST_FIRST = Ordering.by(WebhookDelivery.created_at, OrderDirection.DESC)


@strawberry.type
class Query:
    @strawberry.field(description="The tenant's webhook endpoints, oldest first (admins).")
    async def webhook_endpoints(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookEndpointType]:
        principal = require_roles(info, Role.ADMIN)
        return await paginate(
            info.context,
            service.readable_endpoints(principal),
            to_node=WebhookEndpointType.from_model,
            first=first,
            after=after,
        )

    @strawberry.field(description="Every event type an endpoint may subscribe to (admins).")
    def webhook_event_types(self, info: Info) -> list[WebhookEventTypeType]:
        require_roles(info, Role.ADMIN)
        return [WebhookEventTypeType(name=k, description=v) for k, v in EVENT_TYPES.items()]

    @strawberry.field(
        description="The delivery log, newest first: of one endpoint, or of all (admins)."
    )
    async def webhook_deliveries(
        self,
        info: Info,
        endpoint_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        filter: WebhookDeliveryFilter | None = None,
    ) -> Connection[WebhookDeliveryType]:
        principal = require_roles(info, Role.ADMIN)
        endpoint_pk = pk_of(endpoint_id, "WebhookEndpoint")
        status = filter.status if filter is not None else None
        statement = service.readable_deliveries(
            principal,
            endpoint_id=endpoint_pk,
            status=DeliveryStatus(status.value) if status is not None else None,
            event_type=filter.event_type if filter is not None else None,
        )
        if endpoint_id is not None and endpoint_pk is None:  # not an endpoint id: nothing
            statement = statement.where(false())
        return await paginate(
            info.context,
            statement,
            to_node=WebhookDeliveryType.from_model,
            first=first,
            after=after,
            order=NEWEST_FIRST,
        )
