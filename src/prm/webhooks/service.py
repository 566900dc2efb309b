"""Endpoints and the delivery log, as tenant admins manage them (async, API side).

Only admins (users with the ADMIN role, API clients acting as admin, the platform) may
see or change webhooks: an endpoint's URL and its deliveries' payloads span the whole
tenant. Every function scopes by the principal's tenant (RLS is the second wall) and
reports another tenant's id as NOT_FOUND.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, Role
from prm.errors import ErrorCode, Forbidden, InvalidInput, NotFound
from prm.settings import Settings
from prm.webhooks.models import DeliveryDue, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from prm.webhooks.rules import (
    MANUAL_DISABLE_REASON,
    MAX_ENDPOINTS_PER_TENANT,
    clean_description,
    clean_event_types,
    clean_url,
    fail_pending,
)
from prm.webhooks.secrets import new_secret, secret_box

ADMINS = (Role.ADMIN,)


def require_admin(principal: Principal) -> None:
    if not principal.has_any(*ADMINS):
        raise Forbidden("only tenant admins manage webhooks")


def readable_endpoints(principal: Principal) -> Select[WebhookEndpoint]:
    require_admin(principal)
    return select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == principal.tenant_id)


def readable_deliveries(
    principal: Principal,
    *,
    endpoint_id: uuid.UUID | None = None,
    status: DeliveryStatus | None = None,
    event_type: str | None = None,
) -> Select[WebhookDelivery]:
    require_admin(principal)
    statement = select(WebhookDelivery).where(WebhookDelivery.tenant_id == principal.tenant_id)
    if endpoint_id is not None:
        statement = statement.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        statement = statement.where(WebhookDelivery.status == status)
    if event_type is not None:
        statement = statement.where(WebhookDelivery.event_type == event_type)
    return statement


async def _endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    require_admin(principal)
    row = await session.scalar(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == principal.tenant_id, WebhookEndpoint.id == endpoint_id)
        .with_for_update()
    )
    if row is None:
        raise NotFound("no such webhook endpoint", field="id")
    return row


async def create_endpoint(
    session: AsyncSession,
    principal: Principal,
    *,
    url: str,
    event_types: list[str],
    description: str | None,
    settings: Settings,
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its signing secret, in clear: the only time it is shown."""
    require_admin(principal)
    cleaned_url = clean_url(url, settings)
    types = clean_event_types(event_types)
    cleaned_description = clean_description(description)
    count = await session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.tenant_id == principal.tenant_id)
    )
    if (count or 0) >= MAX_ENDPOINTS_PER_TENANT:
        raise InvalidInput(
            f"a tenant may have at most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints",
            code=ErrorCode.LIMIT_EXCEEDED,
        )
    secret = new_secret()
    endpoint = WebhookEndpoint(
        tenant_id=principal.tenant_id,
        url=cleaned_url,
        description=cleaned_description,
        event_types=types,
        secret_encrypted=secret_box(settings).encrypt(secret),
        active=True,
        failure_count=0,
        created_by=principal.subject_id,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint, secret


async def update_endpoint(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: uuid.UUID,
    *,
    settings: Settings,
    url: str | None = None,
    event_types: list[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
    now: datetime | None = None,
) -> WebhookEndpoint:
    """Change what is given. Re-enabling clears the failure count and the disable reason
    (new events are delivered again; deliveries given up stay FAILED, `redeliverWebhook`
    retries one). Disabling gives up the pending deliveries, as an automatic disable does."""
    endpoint = await _endpoint(session, principal, endpoint_id)
    if url is not None:
        endpoint.url = clean_url(url, settings)
    if event_types is not None:
        endpoint.event_types = clean_event_types(event_types)
    if description is not None:
        endpoint.description = clean_description(description)
    if active is True and not endpoint.active:
        endpoint.active = True
        endpoint.failure_count = 0
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
    elif active is False and endpoint.active:
        endpoint.active = False
        endpoint.disabled_at = now or datetime.now(UTC)
        endpoint.disabled_reason = MANUAL_DISABLE_REASON
        await session.flush()
        for statement in fail_pending(principal.tenant_id, endpoint.id, MANUAL_DISABLE_REASON):
            await session.execute(statement)
    await session.flush()
    return endpoint


async def rotate_secret(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, *, settings: Settings
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret, shown once; deliveries signed from now on use it."""
    endpoint = await _endpoint(session, principal, endpoint_id)
    secret = new_secret()
    endpoint.secret_encrypted = secret_box(settings).encrypt(secret)
    await session.flush()
    return endpoint, secret


async def delete_endpoint(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    """Delete the endpoint with its delivery log (the foreign keys cascade)."""
    endpoint = await _endpoint(session, principal, endpoint_id)
    await session.delete(endpoint)
    await session.flush()
    return endpoint


async def redeliver(
    session: AsyncSession,
    principal: Principal,
    delivery_id: uuid.UUID,
    *,
    now: datetime | None = None,
) -> WebhookDelivery:
    """Schedule one more attempt of a delivery, due at once (whatever its status): the
    same event id and payload, freshly signed. The endpoint must be active."""
    require_admin(principal)
    now = now or datetime.now(UTC)
    row = (
        await session.execute(
            select(WebhookDelivery, WebhookEndpoint.active)
            .join(
                WebhookEndpoint,
                (WebhookEndpoint.tenant_id == WebhookDelivery.tenant_id)
                & (WebhookEndpoint.id == WebhookDelivery.endpoint_id),
            )
            .where(
                WebhookDelivery.tenant_id == principal.tenant_id,
                WebhookDelivery.id == delivery_id,
            )
            .with_for_update(of=WebhookDelivery)
        )
    ).first()
    if row is None:
        raise NotFound("no such webhook delivery", field="id")
    delivery, active = row
    if not active:
        raise InvalidInput("the endpoint is disabled; enable it first", field="id")
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.tenant_id == principal.tenant_id, WebhookDelivery.id == delivery_id)
        .values(status=DeliveryStatus.PENDING, next_attempt_at=now)
    )
    await session.execute(
        insert(DeliveryDue)
        .values(tenant_id=principal.tenant_id, delivery_id=delivery_id, due_at=now)
        .on_conflict_do_update(
            index_elements=[DeliveryDue.tenant_id, DeliveryDue.delivery_id],
            set_={"due_at": now},
        )
    )
    await session.refresh(delivery)
    return delivery
