"""`events`: the loop every subscription resolver runs.

Subscribe to this process's hub (tenant, event types, and the caller's partner or none
for staff), then for each notice re-authenticate in a fresh event scope and hand the
notice to the resolver, which loads what it shows through the visibility-checked loaders
(and yields nothing for what the caller may not see). Every `RECHECK_SECONDS` without an
event the principal is re-checked too. A principal no longer authorised closes the
connection (4403); the generator then waits to be cancelled by the connection's teardown
rather than completing on a closed socket.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

from prm.auth.principal import PARTNER_ROLES, Principal, is_staff
from prm.graphql.context import Context, Info
from prm.graphql.errors import ApiError, Code, Forbidden, Unauthenticated
from prm.graphql.subscriptions.context import SubscriptionContext
from prm.realtime.hub import SubscriberOverflow
from prm.realtime.listener import hub_for
from prm.realtime.notices import Notice

RECHECK_SECONDS = 30.0
"""Between events, the token and its subject are re-checked this often."""


class SlowSubscriber(ApiError):
    """Reported to a subscriber dropped for falling behind (its subscription ends)."""

    code = Code.RATE_LIMITED


def connection_of(info: Info) -> SubscriptionContext:
    context = info.context
    if not isinstance(context, SubscriptionContext) or context.principal is None:
        raise Unauthenticated("subscriptions need an authenticated graphql-transport-ws connection")
    return context


def audience_of(principal: Principal) -> uuid.UUID | None:
    """The partner whose events the caller may hear, or None for tenant staff (all of the
    tenant's, each still loaded through visibility checks). Anyone else: FORBIDDEN."""
    if is_staff(principal):
        return None
    if principal.has_any(*PARTNER_ROLES) and principal.partner_id is not None:
        return principal.partner_id
    raise Forbidden("this subscription is for tenant staff and partner users")


async def events(
    info: Info,
    types: frozenset[str],
    *,
    partner_id: uuid.UUID | None,
    match: Callable[[Notice], bool] | None = None,
) -> AsyncIterator[tuple[Context, Notice]]:
    """(event scope, notice) for each notice the hub routes to the caller; the scope is
    current (and open) until the consumer asks for the next one."""
    connection = connection_of(info)
    principal = connection.principal
    assert principal is not None
    hub = hub_for(connection.database)
    async with hub.subscription(principal.tenant_id, partner_id, types, match=match) as subscriber:
        while True:
            try:
                notice = await subscriber.next(RECHECK_SECONDS)
            except SubscriberOverflow as error:
                raise SlowSubscriber(str(error)) from error
            if notice is None:
                if await connection.still_authorised():
                    continue
                await _revoked(connection)
                return
            async with connection.event_scope() as scope:
                if scope is None:
                    await _revoked(connection)
                    return
                yield scope, notice


async def _revoked(connection: SubscriptionContext) -> None:
    await connection.end()
    await asyncio.Event().wait()  # cancelled when the handler tears the connection down
