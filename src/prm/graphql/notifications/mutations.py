"""`markNotificationsRead`: a partner user clears its inbox."""

from __future__ import annotations

import strawberry

from prm.auth.principal import Role
from prm.errors import InvalidInput
from prm.graphql.context import Info
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.graphql.relay import pk_of
from prm.partners.notifications import mark_read

MAX_IDS = 500


@strawberry.type
class MarkNotificationsReadPayload(Payload):
    marked: int = 0


@strawberry.type
class Mutation:
    @mutation(
        MarkNotificationsReadPayload,
        roles=(Role.PARTNER_ADMIN, Role.PARTNER_REP),
        description="Mark the caller's organisation's notifications read (at most 500 ids; "
        "ids of other organisations or already read are skipped). `marked` counts the "
        "changed ones.",
    )
    async def mark_notifications_read(
        self, info: Info, ids: list[strawberry.ID]
    ) -> MarkNotificationsReadPayload:
        if len(ids) > MAX_IDS:
            raise InvalidInput(f"at most {MAX_IDS} ids", field="ids")
        pks = [pk for pk in (pk_of(value, "PartnerNotification") for value in ids) if pk]
        marked = await mark_read(info.context.session, require_principal(info), pks)
        return MarkNotificationsReadPayload(marked=marked)
