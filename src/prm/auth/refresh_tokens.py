"""Rotating refresh tokens: opaque strings `prt_<tenant hex>_<token id hex>_<secret>`.

The tenant and row id in the string let the token endpoint scope its transaction and
find the row by primary key; the secret (256 random bits) is stored only as its SHA-256,
so a database leak yields no usable token. Each use rotates: the presented row is marked
used and a new row joins the same family. Presenting a row that was already used means
two parties hold the family (OAuth 2.0 Security BCP, section 4.14), so the whole family is
revoked at once.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from prm.auth.models import RefreshToken
from prm.auth.passwords import hash_secret
from prm.db.ids import new_id

_TOKEN = re.compile(r"^prt_([0-9a-f]{32})_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class RefreshTokenParts:
    tenant_id: uuid.UUID
    token_id: uuid.UUID
    secret: str

    def __str__(self) -> str:
        return f"prt_{self.tenant_id.hex}_{self.token_id.hex}_{self.secret}"


def parse_refresh_token(token: str) -> RefreshTokenParts | None:
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    return RefreshTokenParts(
        tenant_id=uuid.UUID(hex=match.group(1)),
        token_id=uuid.UUID(hex=match.group(2)),
        secret=match.group(3),
    )


def issue_refresh_token(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    family_id: uuid.UUID | None,
    now: datetime,
    ttl: timedelta,
) -> str:
    """Store a new refresh token (a new family unless `family_id`) and return its string."""
    parts = RefreshTokenParts(
        tenant_id=tenant_id, token_id=new_id(), secret=secrets.token_urlsafe(32)
    )
    session.add(
        RefreshToken(
            tenant_id=tenant_id,
            id=parts.token_id,
            family_id=family_id or parts.token_id,
            user_id=user_id,
            token_hash=hash_secret(parts.secret),
            expires_at=now + ttl,
        )
    )
    return str(parts)


def load_for_rotation(session: Session, parts: RefreshTokenParts) -> RefreshToken | None:
    """The row a token names, locked until the transaction ends, so two concurrent uses
    of one token are serialised: the second sees the first's rotation as a reuse."""
    row: RefreshToken | None = session.scalars(
        select(RefreshToken)
        .where(RefreshToken.tenant_id == parts.tenant_id, RefreshToken.id == parts.token_id)
        .with_for_update()
    ).one_or_none()
    return row


def revoke_family(session: Session, row: RefreshToken, *, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.tenant_id == row.tenant_id,
            RefreshToken.family_id == row.family_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def purge_expired_refresh_tokens(session: Session, tenant_id: uuid.UUID, *, now: datetime) -> int:
    """Delete a tenant's expired refresh tokens (a scheduler job calls this per tenant, in
    a session scoped to it). Rows live until expiry, not until rotation, so a reuse is
    detected for as long as the stolen token could have been used."""
    result = session.execute(
        delete(RefreshToken).where(
            RefreshToken.tenant_id == tenant_id, RefreshToken.expires_at < now
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
