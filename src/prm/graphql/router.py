"""`/graphql` over HTTP: Strawberry's FastAPI router plus what GraphQL-over-HTTP asks and
Strawberry's defaults miss.

- `Accept: application/graphql-response+json` is honoured: the response carries that type,
  and a request error (the document does not parse or validate, or the variables do not
  coerce) answers 400; under `application/json` such errors keep the legacy 200.
  A request error's body has no `data` entry (GraphQL spec, "Response").
- A bad bearer token answers 401 (`WWW-Authenticate: Bearer error="invalid_token"`,
  RFC 6750) with an `UNAUTHENTICATED` error before anything executes. A request with no
  token runs anonymously; fields that need a principal report `UNAUTHENTICATED`.
- Malformed JSON and other transport faults: 400; a body over `max_body_bytes`: 413
  (multipart uploads, per the GraphQL multipart request spec: over the upload cap);
  a mutation over GET: 405 with `Allow: POST`. All with a GraphQL-shaped error body.
- Hostile input: a JSON array of operations (batching, which prm does not serve) answers
  400 `QUERY_TOO_COMPLEX`; a JSON body that is neither an object nor an array answers 400
  `BAD_USER_INPUT`. Over the rate limits (`prm.graphql.ratelimit`, per client address and
  per bearer token) a request answers 429 `RATE_LIMITED` with `Retry-After`, before the
  token is even checked.
- The request's session is closed when the response is done.
- WebSockets speak `graphql-transport-ws` only (subscriptions); a subscription sent over
  HTTP answers 400. The connection is
  authenticated on `connection_init` (payload `{"authorization": "Bearer <token>"}`); a
  missing or bad token closes it with 4403 (the protocol's "Forbidden"). Each event
  re-checks the token (`subscriptions.context`), so a revoked one ends the connection.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from cross_web import FormData, HTTPException, StarletteRequestAdapter
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import (
    GraphQLHTTPResponse,
    GraphQLRequestData,
    GraphQLRequestProtocol,
    process_result,
)
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from prm.graphql.context import Context, get_context
from prm.graphql.errors import Code
from prm.graphql.ratelimit import RequestLimiter
from prm.graphql.schema import build_schema
from prm.graphql.subscriptions.context import SubscriptionContext, subscription_context
from prm.leads.import_routes import FORM_OVERHEAD, BodyTooLarge, capped_request
from prm.leads.importing import MAX_FILE_BYTES
from prm.settings import Settings

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
SUBSCRIPTIONS_NEED_A_WEBSOCKET = (
    "subscriptions are served over a WebSocket at /graphql (graphql-transport-ws), not over HTTP"
)


class TransportRefusal(HTTPException):
    """A transport-level refusal with its own `extensions.code`."""

    def __init__(self, status_code: int, reason: str, code: Code) -> None:
        super().__init__(status_code, reason)
        self.code = code


class BoundedRequestAdapter(StarletteRequestAdapter):
    """Reads the body as a stream and stops at `max_bytes`, whatever Content-Length says."""

    def __init__(self, request: Request, *, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes

    async def get_body(self) -> bytes:
        declared = self._request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise HTTPException(413, f"request body exceeds {self.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in self._request.stream():
            size += len(chunk)
            if size > self.max_bytes:
                raise HTTPException(413, f"request body exceeds {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def get_form_data(self) -> FormData:
        """Multipart requests (file uploads, e.g. `importLeads`) are spooled to temporary
        files by the form parser and capped at the upload limit, not `max_bytes`."""
        limit = MAX_FILE_BYTES + FORM_OVERHEAD
        declared = self._request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, f"request body exceeds {limit} bytes")
        try:
            form = await capped_request(self._request, limit).form(max_files=5)
        except BodyTooLarge as error:
            raise HTTPException(413, f"request body exceeds {limit} bytes") from error
        return FormData(files=form, form=form)


class PrmGraphQLRouter(GraphQLRouter[Context, None]):
    def __init__(self, schema: BaseSchema, settings: Settings) -> None:
        super().__init__(
            schema,
            path="/graphql",
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            context_getter=_context,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            include_in_schema=False,
            multipart_uploads_enabled=True,
        )
        self.request_adapter_class = functools.partial(  # type: ignore[assignment]
            BoundedRequestAdapter, max_bytes=settings.max_body_bytes
        )
        self.limiter = RequestLimiter.from_settings(settings)

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Context = UNSET,
        root_value: None = UNSET,
    ) -> Response | WebSocket:
        try:
            if isinstance(request, WebSocket):  # graphql-transport-ws, until it closes
                return await super().run(request, context=context, root_value=root_value)
            retry_after = await self.limiter.retry_after(
                authorization=request.headers.get("authorization"),
                address=request.client.host if request.client else None,
            )
            if retry_after is not None:
                return _error_response(
                    request,
                    429,
                    Code.RATE_LIMITED,
                    f"too many requests; retry in {retry_after} s",
                    headers={"Retry-After": str(retry_after)},
                )
            if context.auth_error is not None:
                return _error_response(
                    request,
                    401,
                    Code.UNAUTHENTICATED,
                    context.auth_error,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            # No await before super().run: Strawberry hands the handler's sub-response over
            # through `self.temporal_response`.
            try:
                response = await super().run(request, context=context, root_value=root_value)
            except HTTPException as error:
                return _transport_error(request, error)
            return _negotiate(request, response)
        finally:
            await context.close()

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """`connection_init`: authenticate from the payload's `authorization`, else 4403."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        if not isinstance(context, SubscriptionContext) or not await context.connect(
            params.get("authorization") or params.get("Authorization")
        ):
            raise ConnectionRejectionError()
        return UNSET

    def parse_json(self, data: str | bytes) -> Any:
        """JSON documents here (the body, `variables`, `extensions`, multipart `operations`
        and `map`) are objects, or arrays of operations; a bare string or number used to
        reach Strawberry's `.get` and fail with a 500."""
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "expected a JSON object")
        return parsed

    def _validate_batch_request(
        self, request_data: list[GraphQLRequestData], protocol: GraphQLRequestProtocol
    ) -> None:
        """A JSON array of operations (batching) is refused whatever its size: one request,
        one operation, so the limits and rate limits count what they should."""
        raise TransportRefusal(
            400,
            "batched operations (a JSON array) are not served; send one operation per request",
            Code.QUERY_TOO_COMPLEX,
        )

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as error:
            cause = error.__cause__
            if isinstance(cause, InvalidOperationTypeError) and error.status_code == 400:
                if cause.operation_type is OperationType.SUBSCRIPTION:
                    raise HTTPException(400, SUBSCRIPTIONS_NEED_A_WEBSOCKET) from error
                raise HTTPException(405, "mutations are not allowed over GET; use POST") from error
            raise

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        response = process_result(result)
        if _is_request_error(result):
            request.state.graphql_request_error = True
            response.pop("data", None)
        return response


async def _context(connection: HTTPConnection) -> Context:
    """The request's context; a WebSocket's is authenticated later, on `connection_init`."""
    if connection.scope["type"] == "websocket":
        return subscription_context(connection)
    assert isinstance(connection, Request)
    return await get_context(connection)


def _is_request_error(result: ExecutionResult) -> bool:
    """Failed before execution (parse, validation, variable coercion): no data, and no
    error has a response path."""
    errors = result.errors or []
    return (
        result.data is None
        and bool(errors)
        and all(error.path is None for error in errors)
        and not any(
            (error.extensions or {}).get("code") == Code.INTERNAL_SERVER_ERROR for error in errors
        )
    )


def _accepts_graphql_response_json(request: Request) -> bool:
    for part in request.headers.get("accept", "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        if media.lower() == GRAPHQL_RESPONSE_JSON:
            return not any(param.replace(" ", "") in ("q=0", "q=0.0", "q=0.00") for param in params)
    return False


def _negotiate(request: Request, response: Response) -> Response:
    if not _accepts_graphql_response_json(request):
        return response
    if response.headers.get("content-type", "").startswith("application/json"):
        response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        if getattr(request.state, "graphql_request_error", False):
            response.status_code = 400
    return response


def _transport_error(request: Request, error: HTTPException) -> Response:
    """Strawberry's transport faults (bad JSON, missing query, GET mutation, oversize)."""
    headers = {"Allow": "POST"} if error.status_code == 405 else None  # only GET mutations
    code = error.code if isinstance(error, TransportRefusal) else Code.BAD_USER_INPUT
    return _error_response(request, error.status_code, code, error.reason, headers)


def _error_response(
    request: Request,
    status: int,
    code: Code,
    message: str,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code.value}}]}
    media = GRAPHQL_RESPONSE_JSON if _accepts_graphql_response_json(request) else "application/json"
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type=media,
        headers=headers,
    )


def graphql_router(settings: Settings) -> PrmGraphQLRouter:
    """The router `create_app` mounts: `/graphql`, schema built for `settings`."""
    return PrmGraphQLRouter(build_schema(settings), settings)
