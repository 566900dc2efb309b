"""The OAuth 2 token endpoint, on Authlib's `AuthorizationServer` and its grants.

Grants (API.md, "Transport"):

- `password` (`username` = email, `password`, `tenant` = slug): an access token and a
  refresh token. Unknown tenant, inactive tenant, unknown user, wrong password and
  deactivated user all answer the same `invalid_grant`, after the same Argon2 work, and
  count against the rate limit (`prm.auth.rate_limit`).
- `client_credentials` (HTTP Basic or `client_id`/`client_secret` in the form): an access
  token with the client's scopes, or the requested subset of them; no refresh token.
  Unknown, revoked or wrong-secret clients all answer `invalid_client` (401).
- `refresh_token`: a new access token and a new refresh token; the presented one stops
  working, and presenting it again revokes its whole family (`prm.auth.refresh_tokens`).

Authlib's server is synchronous and keeps request state on itself and its grants, so
`TokenEndpoint` is built per request, around one sync session, and runs in the
threadpool (`prm.auth.routes`). The session starts unscoped (the tenant directory and
`login_failures` are platform tables) and is bound to the tenant as soon as the request
names one (slug, client id or refresh token), before any tenant-owned row is read.

Every request counts against a per-address rate limit (`rate_limit_per_address` per
minute, separate from `/graphql`'s counters; in memory per process unless
`rate_limit_storage_url` names a Redis): over it, 429 `temporarily_unavailable` with
`Retry-After`, before any credential is looked at.

Password and refresh grants name no client; they are served to one implicit public
first-party client (`prm`), the portals that sign people in.
"""

from __future__ import annotations

import functools
import logging
import math
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    OAuth2Request,
    TokenMixin,
)
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
)
from authlib.oauth2.rfc6749.grants import (
    ClientCredentialsGrant,
    RefreshTokenGrant,
    ResourceOwnerPasswordCredentialsGrant,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from prm.auth.client_ids import tenant_of_client_id
from prm.auth.models import RefreshToken
from prm.auth.passwords import hash_secret, secret_matches, verify_password
from prm.auth.principal import Principal, Role
from prm.auth.rate_limit import LoginThrottle, account_key, address_key
from prm.auth.refresh_tokens import (
    issue_refresh_token,
    load_for_rotation,
    parse_refresh_token,
    revoke_family,
)
from prm.auth.scopes import API_CLIENT_SCOPES, roles_for_scopes
from prm.auth.tokens import TokenIssuer
from prm.db.tenancy import bind_tenant
from prm.settings import Settings
from prm.tenants.models import ApiClient, Tenant, User

FIRST_PARTY_CLIENT_ID = "prm"
# Authlib refuses to build a request whose URI is not https (InsecureTransportError). TLS is
# terminated in front of prm (reverse proxy); the token endpoint uses the URI for nothing
# else, so requests carry this fixed one rather than whatever scheme the proxy forwarded.
_ENDPOINT_URI = "https://prm.invalid/oauth/token"

MAX_SLUG_CHARS = 63
MAX_EMAIL_CHARS = 320

# Authlib logs issued tokens at DEBUG; they must never reach the logs.
logging.getLogger("authlib").setLevel(max(logging.INFO, logging.getLogger("authlib").level))

TokenResponse = tuple[int, dict[str, Any], list[tuple[str, str]]]


class TooManyAttempts(OAuth2Error):
    """A throttled password grant: 429, `invalid_grant`, with `Retry-After`."""

    error = "invalid_grant"
    description = "too many failed attempts, try later"
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        return [*headers, ("Retry-After", str(self.retry_after))]


class RequestsThrottled(TooManyAttempts):
    """Too many token requests from one address: 429 with `Retry-After`."""

    error = "temporarily_unavailable"
    description = "too many requests from this address, try later"


@functools.lru_cache(maxsize=8)
def _rate_limiter(storage_url: str | None) -> MovingWindowRateLimiter:
    """One store per URL and process (the `limits` package; Redis when configured)."""
    return MovingWindowRateLimiter(storage_from_string(storage_url or "memory://"))


def address_retry_after(settings: Settings, address: str | None) -> int | None:
    """Counts one token request for `address`: the seconds to wait when over the limit,
    else None. An unreachable store lets the request through (logged)."""
    key = address_key(address)
    if settings.rate_limit_per_address <= 0 or key is None:
        return None
    item = RateLimitItemPerMinute(settings.rate_limit_per_address)
    limiter = _rate_limiter(settings.rate_limit_storage_url)
    try:
        if limiter.hit(item, "oauth-token", key):
            return None
        reset_at, _ = limiter.get_window_stats(item, "oauth-token", key)
    except Exception:
        logging.getLogger("prm.ratelimit").warning(
            "rate limit store unavailable; request not limited", exc_info=True
        )
        return None
    return max(1, math.ceil(reset_at - time.time()))


class BadCredentials(InvalidGrantError):
    description = "invalid username, password or tenant"


class BadRefreshToken(InvalidGrantError):
    description = "invalid, expired or revoked refresh token"


class FirstPartyClient(ClientMixin):
    """The implicit public client of the password and refresh_token grants."""

    def get_client_id(self) -> str:
        return FIRST_PARTY_CLIENT_ID

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        return ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in {"password", "refresh_token"}


class ApiClientAdapter(ClientMixin):
    """An `ApiClient` row as Authlib's client: confidential, client_credentials only."""

    def __init__(self, row: ApiClient) -> None:
        self.row = row

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.row.scopes or ())

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        requested = scope_to_list(scope) if scope else sorted(self.scopes)
        return " ".join(sorted(s for s in requested if s in self.scopes))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(self.row.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class RefreshCredential(TokenMixin):
    """A validated, locked refresh-token row and its (active) user."""

    def __init__(self, row: RefreshToken, user: User) -> None:
        self.row = row
        self.user = user

    def check_client(self, client: ClientMixin) -> bool:
        return isinstance(client, FirstPartyClient)

    def get_scope(self) -> str | None:
        return self.row.scope


class TokenRequest(OAuth2Request):
    """One token request: the parsed form (each parameter once), headers, client address."""

    def __init__(
        self, form: Mapping[str, str], headers: Mapping[str, str], client_address: str | None
    ) -> None:
        super().__init__("POST", _ENDPOINT_URI, headers=headers)
        self._form = dict(form)
        self.payload = BasicOAuth2Payload(self._form)
        self.client_address = client_address

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class PasswordGrant(ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    server: TokenEndpoint
    request: TokenRequest

    def validate_token_request(self) -> None:
        if self.request.payload.scope:
            raise InvalidScopeError(
                "user tokens carry the user's roles; scope is not supported with this grant"
            )
        form = self.request.form
        if not form.get("tenant"):
            raise InvalidRequestError("Missing 'tenant' in request.")
        # Longer values name no tenant or user, and would not fit a rate-limit key.
        if len(form["tenant"]) > MAX_SLUG_CHARS or len(form.get("username", "")) > MAX_EMAIL_CHARS:
            raise InvalidRequestError("'tenant' or 'username' is too long")
        super().validate_token_request()

    def validate_requested_scope(self) -> None:
        """Checked up front: no scope may be requested."""

    def authenticate_user(self, username: str, password: str) -> User:
        return self.server.sign_in(
            slug=self.request.form["tenant"],
            email=username,
            password=password,
            address=self.request.client_address,
        )


class ClientGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    request: TokenRequest

    def validate_requested_scope(self) -> None:
        scope = self.request.payload.scope
        if scope is None:
            return
        requested = set(scope_to_list(scope) or ())
        if not requested or not requested <= self.request.client.scopes:
            raise InvalidScopeError("scope must be a subset of the client's scopes")


class RotatingRefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: TokenEndpoint

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential:
        return self.server.refresh_credential(refresh_token)

    def authenticate_user(self, refresh_token: RefreshCredential) -> User:
        return refresh_token.user

    def issue_token(self, user: User, refresh_token: RefreshCredential) -> dict[str, Any]:
        return self.server.user_token(user, family_id=refresh_token.row.family_id)

    def revoke_old_credential(self, refresh_token: RefreshCredential) -> None:
        refresh_token.row.used_at = self.server.now


class TokenEndpoint(AuthorizationServer):
    """Authlib's authorization server for one request, around one sync session."""

    def __init__(
        self,
        session: Session,
        *,
        issuer: TokenIssuer,
        settings: Settings,
        now: datetime | None = None,
    ) -> None:
        super().__init__(scopes_supported=sorted(API_CLIENT_SCOPES))
        self.session = session
        self.issuer = issuer
        self.now = now or datetime.now(UTC)
        self.refresh_ttl = timedelta(seconds=settings.refresh_token_ttl_seconds)
        self.settings = settings
        self.throttle = LoginThrottle(
            max_failures=settings.login_max_failures,
            window=timedelta(seconds=settings.login_failure_window_seconds),
        )
        self.register_grant(PasswordGrant)
        self.register_grant(ClientGrant)
        self.register_grant(RotatingRefreshGrant)
        self.register_token_generator("default", self._generate_token)

    # Authlib's framework hooks: our "framework" is the request object and a tuple.

    def create_oauth2_request(self, request: TokenRequest) -> TokenRequest:
        return request

    def handle_response(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]
    ) -> TokenResponse:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's signal hook; prm listens to none."""

    def respond(self, request: TokenRequest) -> TokenResponse:
        retry_after = address_retry_after(self.settings, request.client_address)
        if retry_after is not None:
            status, body, headers = RequestsThrottled(retry_after)()
            return status, dict(body), list(headers)
        response: TokenResponse = self.create_token_response(request)
        return response

    # Clients

    def query_client(self, client_id: str) -> ApiClientAdapter | None:
        """The active API client `client_id` names, in a session bound to its tenant."""
        tenant_id = tenant_of_client_id(client_id)
        if tenant_id is None or not self._bind_active_tenant(tenant_id):
            return None
        row = self.session.scalars(
            select(ApiClient).where(
                ApiClient.tenant_id == tenant_id,
                ApiClient.client_id == client_id,
                ApiClient.revoked_at.is_(None),
            )
        ).one_or_none()
        return ApiClientAdapter(row) if row is not None else None

    def authenticate_client(
        self, request: TokenRequest, methods: list[str], endpoint: str = "token"
    ) -> ClientMixin:
        """Replaces Authlib's method registry so that every failure looks the same: an
        unknown client, a revoked one and a wrong secret all get one 401 `invalid_client`
        (Authlib's defaults answer an unknown id differently)."""
        if methods == ["none"]:
            request.auth_method = "none"
            return FirstPartyClient()
        try:
            basic_id, basic_secret = extract_basic_authorization(request.headers)
        except (UnicodeDecodeError, ValueError):
            basic_id, basic_secret = None, None
        form_id, form_secret = request.form.get("client_id"), request.form.get("client_secret")
        if basic_id is not None and form_secret is not None:
            raise InvalidRequestError("use one client authentication method, not two")
        if basic_id is not None and "client_secret_basic" in methods:
            method, client_id, secret = "client_secret_basic", basic_id, basic_secret
        elif form_id is not None and "client_secret_post" in methods:
            method, client_id, secret = "client_secret_post", form_id, form_secret
        else:
            method, client_id, secret = None, None, None
        client = self.query_client(client_id) if client_id else None
        if client is None:
            hash_secret(secret or "")  # the same work as a real comparison
        elif secret and client.check_client_secret(secret):
            request.auth_method = method
            return client
        raise InvalidClientError(status_code=401, description="client authentication failed")

    # Users

    def sign_in(self, *, slug: str, email: str, password: str, address: str | None) -> User:
        """The active user these credentials name, or `BadCredentials`, at constant work."""
        account = account_key(slug, email)
        keys = [account] + [key for key in (address_key(address),) if key]
        retry_after = self.throttle.retry_after(self.session, keys, now=self.now)
        if retry_after is not None:
            raise TooManyAttempts(retry_after)

        user: User | None = None
        tenant_id = self.session.scalar(
            select(Tenant.id).where(Tenant.slug == slug.strip().lower(), Tenant.active.is_(True))
        )
        if tenant_id is not None:
            bind_tenant(self.session, tenant_id)
            user = self.session.scalars(
                select(User).where(
                    User.tenant_id == tenant_id,
                    func.lower(User.email) == email.strip().lower(),
                )
            ).one_or_none()
        password_ok = verify_password(user.password_hash if user else None, password)
        if user is None or not password_ok or not user.active:
            self.throttle.record_failure(self.session, keys, now=self.now)
            raise BadCredentials()
        self.throttle.clear(self.session, account)
        return user

    def refresh_credential(self, token: str) -> RefreshCredential:
        """The presented refresh token, valid and locked; a reuse revokes its family."""
        parts = parse_refresh_token(token)
        if parts is None or not self._bind_active_tenant(parts.tenant_id):
            raise BadRefreshToken()
        row = load_for_rotation(self.session, parts)
        if row is None or not secret_matches(row.token_hash, parts.secret):
            raise BadRefreshToken()
        if row.revoked_at is not None:
            raise BadRefreshToken()
        if row.used_at is not None:
            revoke_family(self.session, row, now=self.now)
            raise BadRefreshToken()
        if row.expires_at <= self.now:
            raise BadRefreshToken()
        user = self.session.scalars(
            select(User).where(
                User.tenant_id == row.tenant_id, User.id == row.user_id, User.active.is_(True)
            )
        ).one_or_none()
        if user is None:
            raise BadRefreshToken()
        return RefreshCredential(row, user)

    # Tokens

    def user_token(self, user: User, *, family_id: uuid.UUID | None) -> dict[str, Any]:
        """An access token for `user` and a refresh token (a new family unless given)."""
        principal = Principal(
            tenant_id=user.tenant_id,
            kind="user",
            subject_id=user.id,
            roles=frozenset(Role(role) for role in user.roles if role in Role.__members__),
            partner_id=user.partner_id,
        )
        token = self._bearer(principal)
        token["refresh_token"] = issue_refresh_token(
            self.session,
            tenant_id=user.tenant_id,
            user_id=user.id,
            family_id=family_id,
            now=self.now,
            ttl=self.refresh_ttl,
        )
        return token

    def client_token(self, client: ApiClientAdapter, scope: str | None) -> dict[str, Any]:
        scopes = frozenset(scope_to_list(client.get_allowed_scope(scope)) or ())
        principal = Principal(
            tenant_id=client.row.tenant_id,
            kind="api_client",
            subject_id=client.row.id,
            roles=roles_for_scopes(scopes),
            scopes=scopes,
        )
        token = self._bearer(principal)
        token["scope"] = " ".join(sorted(scopes))
        return token

    def save_token(self, token: dict[str, Any], request: TokenRequest) -> None:
        """Refresh tokens are stored as they are made; this records the sign-in."""
        if request.payload.grant_type == "password":
            self.session.execute(
                update(User)
                .where(User.tenant_id == request.user.tenant_id, User.id == request.user.id)
                .values(last_login_at=self.now)
            )
        elif isinstance(request.client, ApiClientAdapter):
            row = request.client.row
            self.session.execute(
                update(ApiClient)
                .where(ApiClient.tenant_id == row.tenant_id, ApiClient.id == row.id)
                .values(last_used_at=self.now)
            )

    def _generate_token(
        self,
        grant_type: str,
        client: ClientMixin,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        if isinstance(client, ApiClientAdapter):
            return self.client_token(client, scope)
        if user is None:  # Authlib passes the user for every user grant
            raise InvalidGrantError()
        return self.user_token(user, family_id=None)

    def _bearer(self, principal: Principal) -> dict[str, Any]:
        return {
            "access_token": self.issuer.issue(principal, now=self.now.timestamp()),
            "token_type": "Bearer",
            "expires_in": self.issuer.ttl_seconds,
        }

    def _bind_active_tenant(self, tenant_id: uuid.UUID) -> bool:
        active = self.session.scalar(select(Tenant.active).where(Tenant.id == tenant_id))
        if not active:
            return False
        bind_tenant(self.session, tenant_id)
        return True
