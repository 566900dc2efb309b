"""HTTP routes of the auth domain: `POST /oauth/token` and `GET /.well-known/jwks.json`.

The token endpoint reads and checks the form here, on the event loop (bounded size, each
parameter at most once, UTF-8), then runs Authlib's synchronous server in the threadpool
with a sync session that commits before the answer is sent: failures recorded for rate
limiting and a family revoked on reuse are kept even though the request fails.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from prm.auth.oauth import TokenEndpoint, TokenRequest, TokenResponse
from prm.auth.tokens import TokenIssuer
from prm.db.engine import Database
from prm.settings import Settings

router = APIRouter()

MAX_TOKEN_BODY_BYTES = 16 * 1024
MAX_FIELD_CHARS = 4096
MAX_FIELDS = 20
JWKS_MAX_AGE_SECONDS = 300


class BodyTooLarge(InvalidRequestError):
    description = "request body too large"


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_TOKEN_BODY_BYTES):
        raise BodyTooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_TOKEN_BODY_BYTES:
            raise BodyTooLarge()
    return bytes(body)


async def read_token_form(request: Request) -> dict[str, str]:
    """The form's parameters, or `invalid_request`. Empty values count as absent and a
    repeated parameter is refused (RFC 6749, section 3.2)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise InvalidRequestError("the body must be application/x-www-form-urlencoded")
    body = await _read_body(request)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidRequestError("the body is not a valid UTF-8 form") from error
    form: dict[str, str] = {}
    for name, value in pairs:
        if len(name) > 100 or len(value) > MAX_FIELD_CHARS:
            raise InvalidRequestError("a parameter is too long")
        if not value:
            continue
        if name in form:
            raise InvalidRequestError("a parameter is repeated")
        form[name] = value
    if "grant_type" not in form:
        raise InvalidRequestError("Missing 'grant_type' in request.")
    return form


def _respond(
    db: Database, issuer: TokenIssuer, settings: Settings, token_request: TokenRequest
) -> TokenResponse:
    with db.sync_session() as session:
        endpoint = TokenEndpoint(session, issuer=issuer, settings=settings)
        return endpoint.respond(token_request)


def _json(status: int, body: dict[str, Any], headers: list[tuple[str, str]]) -> Response:
    return Response(content=json.dumps(body), status_code=status, headers=dict(headers))


@router.post("/oauth/token", include_in_schema=False)
async def token(request: Request) -> Response:
    try:
        form = await read_token_form(request)
    except OAuth2Error as error:
        return _json(*error())
    token_request = TokenRequest(
        form, request.headers, request.client.host if request.client else None
    )
    state = request.app.state
    status, body, headers = await run_in_threadpool(
        _respond, state.db, state.issuer, state.settings, token_request
    )
    return _json(status, body, headers)


@router.get("/.well-known/jwks.json", include_in_schema=False)
async def jwks(request: Request) -> Response:
    """The public keys that verify access tokens, cacheable for a few minutes."""
    issuer: TokenIssuer = request.app.state.issuer
    return Response(
        content=json.dumps(issuer.keys.jwks()),
        media_type="application/json",
        headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"},
    )
