"""Webhook mutations (tenant admins). Create and rotate return the signing secret: the
only time it is ever shown."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.graphql.context import Info
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk
from prm.graphql.webhooks.inputs import CreateWebhookEndpointInput, UpdateWebhookEndpointInput
from prm.graphql.webhooks.types import WebhookDeliveryType, WebhookEndpointType
from prm.webhooks import service

ADMIN = (Role.ADMIN,)
ENDPOINT = "WebhookEndpoint"


@strawberry.type
class WebhookEndpointPayload(Payload):
    webhook_endpoint: WebhookEndpointType | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret, on create and rotate only: shown once, stored "
        "encrypted, never readable again.",
    )


@strawberry.type
class WebhookDeliveryPayload(Payload):
    webhook_delivery: WebhookDeliveryType | None = None


@strawberry.type
class Mutation:
    @mutation(
        WebhookEndpointPayload,
        roles=ADMIN,
        description="Register an endpoint for event types; returns its signing secret once.",
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        endpoint, secret = await service.create_endpoint(
            info.context.session,
            require_principal(info),
            url=input.url,
            event_types=input.event_types,
            description=input.description,
            settings=info.context.settings,
        )
        return WebhookEndpointPayload(
            webhook_endpoint=WebhookEndpointType.from_model(endpoint), secret=secret
        )

    @mutation(
        WebhookEndpointPayload,
        roles=ADMIN,
        description="Change an endpoint's URL, event types, description, or enable/disable it.",
    )
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        endpoint = await service.update_endpoint(
            info.context.session,
            require_principal(info),
            require_pk(id, ENDPOINT, field="id"),
            settings=info.context.settings,
            url=input.url,
            event_types=input.event_types,
            description=input.description,
            active=input.active,
        )
        return WebhookEndpointPayload(webhook_endpoint=WebhookEndpointType.from_model(endpoint))

    @mutation(
        WebhookEndpointPayload,
        roles=ADMIN,
        description="Replace an endpoint's signing secret; returns the new one once.",
    )
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookEndpointPayload:
        endpoint, secret = await service.rotate_secret(
            info.context.session,
            require_principal(info),
            require_pk(id, ENDPOINT, field="id"),
            settings=info.context.settings,
        )
        return WebhookEndpointPayload(
            webhook_endpoint=WebhookEndpointType.from_model(endpoint), secret=secret
        )

    @mutation(
        WebhookEndpointPayload,
        roles=ADMIN,
        description="Delete an endpoint and its delivery log.",
    )
    async def delete_webhook_endpoint(
        self, info: Info, id: strawberry.ID
    ) -> WebhookEndpointPayload:
        endpoint = await service.delete_endpoint(
            info.context.session, require_principal(info), require_pk(id, ENDPOINT, field="id")
        )
        return WebhookEndpointPayload(webhook_endpoint=WebhookEndpointType.from_model(endpoint))

    @mutation(
        WebhookDeliveryPayload,
        roles=ADMIN,
        description="Schedule one more attempt of a delivery, due at once (its endpoint "
        "must be active).",
    )
    async def redeliver_webhook(self, info: Info, id: strawberry.ID) -> WebhookDeliveryPayload:
        delivery = await service.redeliver(
            info.context.session,
            require_principal(info),
            require_pk(id, "WebhookDelivery", field="id"),
        )
        return WebhookDeliveryPayload(webhook_delivery=WebhookDeliveryType.from_model(delivery))
