"""Operation-level checks. Call one at the top of a resolver; objects the principal may
not see are a matter for the domain's readable-statement helpers (they come back null /
NOT_FOUND), never for these."""

from __future__ import annotations

from prm.auth.principal import Principal, Role
from prm.graphql.context import Context, Info
from prm.graphql.errors import Forbidden, Unauthenticated


def require_principal(info: Info | Context) -> Principal:
    """The acting principal, or `UNAUTHENTICATED`."""
    context = info if isinstance(info, Context) else info.context
    if context.principal is None:
        raise Unauthenticated("authentication required: send 'Authorization: Bearer <token>'")
    return context.principal


def require_roles(info: Info | Context, *roles: Role) -> Principal:
    """The principal if it holds any of `roles`, else `FORBIDDEN` (or `UNAUTHENTICATED`)."""
    principal = require_principal(info)
    if roles and not principal.has_any(*roles):
        names = ", ".join(role.value for role in roles)
        raise Forbidden(f"this operation requires one of the roles: {names}")
    return principal
