"""`partnerNotifications`: a partner user's inbox, newest first."""

from __future__ import annotations

import strawberry

from prm.graphql.context import Info
from prm.graphql.notifications.types import PartnerNotificationType
from prm.graphql.pagination import Connection, OrderDirection, Ordering, paginate
from prm.graphql.permissions import require_principal
from prm.graphql.relay import pk_of
from prm.partners.models import PartnerNotification
from prm.partners.notifications import readable_notifications

NEWEST = Ordering.by(PartnerNotification.created_at, OrderDirection.DESC)
"""Served by `ix_partner_notifications_partner` (tenant, partner, created_at, id)."""


@strawberry.type
class Query:
    @strawberry.field(
        description="Notifications, newest first: a partner user's organisation's; tenant "
        "staff see every partner's (narrow with `partnerId`). `unreadOnly` keeps those not "
        "yet marked read."
    )
    async def partner_notifications(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        unread_only: bool = False,
        partner_id: strawberry.ID | None = None,
    ) -> Connection[PartnerNotificationType]:
        statement = readable_notifications(require_principal(info))
        if partner_id is not None:
            # An id of another type matches nothing: an empty page, not an error.
            statement = statement.where(
                PartnerNotification.partner_id == pk_of(partner_id, "Partner")
            )
        if unread_only:
            statement = statement.where(PartnerNotification.read_at.is_(None))
        return await paginate(
            info.context,
            statement,
            to_node=PartnerNotificationType.from_model,
            first=first,
            after=after,
            order=NEWEST,
        )
