"""Inputs of webhooks."""

from __future__ import annotations

import strawberry

from prm.graphql.webhooks.types import DeliveryStatusEnum


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="https (http only in development); no credentials; at most 2000 characters."
    )
    event_types: list[str] = strawberry.field(description="Names from `webhookEventTypes`.")
    description: str | None = None


@strawberry.input
class UpdateWebhookEndpointInput:
    url: str | None = None
    event_types: list[str] | None = None
    description: str | None = None
    active: bool | None = strawberry.field(
        default=None,
        description="false disables (pending deliveries are given up); true re-enables "
        "and resets the failure count.",
    )


@strawberry.input
class WebhookDeliveryFilter:
    status: DeliveryStatusEnum | None = None  # type: ignore[valid-type]
    event_type: str | None = None
