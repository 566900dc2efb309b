"""The format of API client ids: `prm_<tenant id, 32 hex>_<32 random hex>`.

The tenant is part of the id so the token endpoint knows which tenant to scope its
transaction to before it looks the client up: no search across tenants, and RLS stays on
for the look-up. The random part keeps ids unguessable (they are not secrets, but
knowing one should not tell you another).
"""

from __future__ import annotations

import re
import secrets
import uuid

_CLIENT_ID = re.compile(r"^prm_([0-9a-f]{32})_([0-9a-f]{32})$")


def new_client_id(tenant_id: uuid.UUID) -> str:
    return f"prm_{tenant_id.hex}_{secrets.token_hex(16)}"


def tenant_of_client_id(client_id: str) -> uuid.UUID | None:
    """The tenant a client id names, or None if it is not one of ours."""
    match = _CLIENT_ID.fullmatch(client_id)
    return uuid.UUID(hex=match.group(1)) if match else None
