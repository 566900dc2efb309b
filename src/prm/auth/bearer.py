"""From an `Authorization: Bearer …` header to a `Principal`, or `Unauthenticated`.

The signature and lifetime are checked by `TokenIssuer.verify`; then one primary-key
look-up confirms the subject still exists and is active (users) or unrevoked (clients),
so deactivation and revocation take effect on the very next request.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.auth.tokens import InvalidToken, TokenIssuer
from prm.db.tenancy import abind_tenant
from prm.tenants.models import ApiClient, Tenant, User


class Unauthenticated(Exception):
    """No usable credentials: reported as `UNAUTHENTICATED`, never as a 500."""


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <access token>'")
    return token.strip()


async def authenticate(
    authorization: str | None, *, issuer: TokenIssuer, session: AsyncSession
) -> Principal | None:
    """The request's principal (None without credentials); binds `session` to its tenant."""
    token = bearer_token(authorization)
    if token is None:
        return None
    try:
        principal = issuer.verify(token)
    except InvalidToken as error:
        raise Unauthenticated("invalid or expired access token") from error
    await abind_tenant(session, principal.tenant_id)
    if principal.kind == "user":
        subject_active = (
            select(User.active)
            .where(User.tenant_id == principal.tenant_id, User.id == principal.subject_id)
            .scalar_subquery()
        )
    elif principal.kind == "api_client":
        subject_active = (
            select(ApiClient.revoked_at.is_(None))
            .where(ApiClient.tenant_id == principal.tenant_id, ApiClient.id == principal.subject_id)
            .scalar_subquery()
        )
    else:
        raise Unauthenticated("invalid or expired access token")
    # One round trip: the tenant is active and so is the subject (user, or unrevoked client).
    active = await session.scalar(
        select(Tenant.active & subject_active).where(Tenant.id == principal.tenant_id)
    )
    if not active:
        raise Unauthenticated("invalid or expired access token")
    return principal
