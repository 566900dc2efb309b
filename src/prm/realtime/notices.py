"""`Notice`: one `prm_events` notification, parsed (ids only, as the bus sends them)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Notice:
    id: str
    tenant_id: uuid.UUID
    type: str
    partner_ids: frozenset[uuid.UUID]
    ids: Mapping[str, str]

    def pk(self, key: str) -> uuid.UUID | None:
        """The id `key` (e.g. "leadId") as a UUID, or None when absent or malformed."""
        value = self.ids.get(key)
        try:
            return uuid.UUID(value) if value else None
        except ValueError:
            return None


def parse_notice(payload: str) -> Notice | None:
    """The notification as a `Notice`; None for anything malformed (someone else's
    NOTIFY on the channel must not stop the listener)."""
    try:
        body = json.loads(payload)
        return Notice(
            id=str(body["id"]),
            tenant_id=uuid.UUID(body["tenant"]),
            type=str(body["type"]),
            partner_ids=frozenset(uuid.UUID(pk) for pk in body.get("partners") or ()),
            ids={str(k): str(v) for k, v in (body.get("ids") or {}).items() if v is not None},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
