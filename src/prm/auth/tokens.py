"""Access tokens: short-lived JWTs signed with the tenant-independent platform key.

The claims carry what a request needs to build its `Principal` without a lookup
(tenant, subject, roles, partner, scopes); whether the subject is still active is checked
per request by `prm.auth.bearer`, so deactivation takes effect at once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from prm.auth.keys import KeyRing
from prm.auth.principal import Principal, Role

CLOCK_SKEW_SECONDS = 30


class InvalidToken(Exception):
    """The token is malformed, forged, expired or otherwise unacceptable."""


@dataclass(frozen=True)
class TokenIssuer:
    keys: KeyRing
    issuer: str
    ttl_seconds: int

    def issue(self, principal: Principal, *, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(principal.subject_id),
            "tid": str(principal.tenant_id),
            "typ": principal.kind,
            "roles": sorted(role.value for role in principal.roles),
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        if principal.partner_id:
            claims["pid"] = str(principal.partner_id)
        if principal.scopes:
            claims["scope"] = " ".join(sorted(principal.scopes))
        header = {"alg": self.keys.algorithm, "kid": self.keys.kid, "typ": "at+jwt"}
        return jwt.encode(header, claims, self.keys.signing)

    def verify(self, token: str, *, now: float | None = None) -> Principal:
        """The principal a token names, if its signature, issuer and lifetime are good."""
        if not token or len(token) > 8192:
            raise InvalidToken("malformed token")
        try:
            decoded = jwt.decode(token, self.keys.signing, algorithms=[self.keys.algorithm])
            registry = jwt.JWTClaimsRegistry(
                now=int(now) if now is not None else None,
                leeway=CLOCK_SKEW_SECONDS,
                iss={"essential": True, "value": self.issuer},
                exp={"essential": True},
                sub={"essential": True},
            )
            registry.validate(decoded.claims)
            claims = decoded.claims
            return Principal(
                tenant_id=uuid.UUID(claims["tid"]),
                kind=claims["typ"],
                subject_id=uuid.UUID(claims["sub"]),
                roles=frozenset(Role(role) for role in claims.get("roles", [])),
                partner_id=uuid.UUID(claims["pid"]) if claims.get("pid") else None,
                scopes=frozenset(str(claims.get("scope", "")).split()),
            )
        except (JoseError, KeyError, ValueError, TypeError) as error:
            raise InvalidToken(str(error) or error.__class__.__name__) from error
