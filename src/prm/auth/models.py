"""Tables of the auth domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKeyConstraint, Identity, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import Base, TenantOwned


class RefreshToken(TenantOwned, Base):
    """A rotating refresh token. Each rotation issues a new row in the same `family_id`;
    presenting a token that was already rotated (`used_at` set) revokes the whole family,
    the standard defence against a stolen refresh token (OAuth 2.0 Security BCP)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        Index("ix_refresh_tokens_tenant_family", "tenant_id", "family_id"),
        Index("ix_refresh_tokens_tenant_user", "tenant_id", "user_id"),
    )

    family_id: Mapped[uuid.UUID] = mapped_column()
    user_id: Mapped[uuid.UUID] = mapped_column()
    token_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class LoginFailure(Base):
    """A failed sign-in, keyed by account (`acct:<tenant>:<email>`) and by address
    (`addr:<ip>`). A platform table: failures are counted before a tenant is known."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    key: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column()
