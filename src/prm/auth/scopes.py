"""API client scopes and the roles they grant.

An API client (client credentials) acts with the roles its scopes map to:

| scope     | role       | for                                                       |
| --------- | ---------- | --------------------------------------------------------- |
| `admin`   | `ADMIN`    | tenant automation: users, clients, settings, everything   |
| `manager` | `MANAGER`  | managing partners, leads, pricing, reviews                |
| `read`    | `EMPLOYEE` | read access as an ordinary tenant employee                |

A client's scopes are fixed when it is created (`createApiClient` must accept only
`API_CLIENT_SCOPES`); a token request may ask for a subset with `scope=`. The token
carries both the scopes and the mapped roles, so authorization checks read roles only,
whoever the principal is.
"""

from __future__ import annotations

from collections.abc import Iterable

from prm.auth.principal import Role

SCOPE_ROLES: dict[str, Role] = {
    "admin": Role.ADMIN,
    "manager": Role.MANAGER,
    "read": Role.EMPLOYEE,
}
API_CLIENT_SCOPES = frozenset(SCOPE_ROLES)


def roles_for_scopes(scopes: Iterable[str]) -> frozenset[Role]:
    """The roles a set of scopes grants; unknown scope names grant nothing."""
    return frozenset(SCOPE_ROLES[scope] for scope in scopes if scope in SCOPE_ROLES)
