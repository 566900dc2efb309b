"""`WebhookEndpoint`, `WebhookDelivery` and `WebhookEventType` as admins see them. The
signing secret is never a field: it appears once, in the payload that created or
rotated it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from prm.auth.principal import Role
from prm.graphql.context import Context, Info
from prm.graphql.relay import Node, register_node
from prm.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

DeliveryStatusEnum = strawberry.enum(
    DeliveryStatus, name="WebhookDeliveryStatus", description="Where a delivery is."
)


@strawberry.type(name="WebhookEventType", description="An event webhooks may subscribe to.")
class WebhookEventTypeType:
    name: str
    description: str


@strawberry.type(
    name="WebhookEndpoint",
    description="Where events of `eventTypes` are POSTed, signed with the endpoint's secret.",
)
class WebhookEndpointType(Node):
    url: str
    description: str | None
    event_types: list[str]
    active: bool
    failure_count: int = strawberry.field(
        description="Consecutive failed attempts; the endpoint is disabled at 20."
    )
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, row: WebhookEndpoint) -> WebhookEndpointType:
        return cls.from_row(row, event_types=list(row.event_types))


@strawberry.type(name="WebhookDelivery", description="One event sent (or to send) to one endpoint.")
class WebhookDeliveryType(Node):
    event_id: strawberry.ID = strawberry.field(
        description="The event's id (`X-Prm-Event-Id`), shared by all its deliveries."
    )
    event_type: str
    payload: JSON = strawberry.field(description="The JSON body sent.")
    status: DeliveryStatusEnum  # type: ignore[valid-type]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    endpoint_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The endpoint it goes to.")
    async def endpoint(self, info: Info) -> WebhookEndpointType | None:
        row = await info.context.loaders.by_id(WebhookEndpoint).load(self.endpoint_pk)
        return WebhookEndpointType.from_model(row) if row is not None else None

    @classmethod
    def from_model(cls, row: WebhookDelivery) -> WebhookDeliveryType:
        return cls.from_row(
            row,
            event_id=strawberry.ID(str(row.event_id)),
            payload=cast("JSON", row.payload),
            endpoint_pk=row.endpoint_id,
        )


def _admin(context: Context) -> bool:
    return context.principal is not None and context.principal.has_any(Role.ADMIN)


@register_node(WebhookEndpointType)
async def load_endpoint(context: Context, pk: uuid.UUID) -> WebhookEndpointType | None:
    if not _admin(context):
        return None
    row = await context.loaders.by_id(WebhookEndpoint).load(pk)
    return WebhookEndpointType.from_model(row) if row is not None else None


@register_node(WebhookDeliveryType)
async def load_delivery(context: Context, pk: uuid.UUID) -> WebhookDeliveryType | None:
    if not _admin(context):
        return None
    row = await context.loaders.by_id(WebhookDelivery).load(pk)
    return WebhookDeliveryType.from_model(row) if row is not None else None
