"""Primary keys are UUIDv7: unique without coordination, and time-ordered, so B-tree
inserts stay local and keyset pagination by id follows creation order."""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7 as _uuid7


def new_id() -> uuid.UUID:
    return _uuid7()
