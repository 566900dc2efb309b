"""Errors the API reports, in two families.

Transport errors are GraphQL errors carrying `extensions.code` (API.md): raise one of the
`ApiError` subclasses from a resolver. `UserError` is the typed error of mutation payloads,
built from a `prm.errors.DomainError` by `user_error_from` (the one place that mapping
lives). Anything else a resolver raises is unexpected: masked as `INTERNAL_SERVER_ERROR`
and logged with the request id (see `extensions.ErrorPolicy`).
"""

from __future__ import annotations

import enum
import uuid
from typing import ClassVar

import strawberry

from graphql import GraphQLError
from prm.errors import DomainError, Duplicate, ErrorCode


class Code(enum.StrEnum):
    """`extensions.code` values of transport-level errors."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class ApiError(Exception):
    """A transport error raised on purpose. graphql-core copies `extensions` onto the
    GraphQL error it builds, so the code reaches the client unmasked."""

    code: ClassVar[Code]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, object] = {"code": self.code.value}


class Unauthenticated(ApiError):
    code = Code.UNAUTHENTICATED


class Forbidden(ApiError):
    """The principal may not perform the operation (objects it may not see are null)."""

    code = Code.FORBIDDEN


class BadUserInput(ApiError):
    code = Code.BAD_USER_INPUT


class QueryUserError(ApiError):
    """A `DomainError` raised by a query (which has no payload for `UserError`s), reported
    as a GraphQL error with its own code and field in `extensions` (graphql-core copies
    them onto the error it builds, and `ErrorPolicy` keeps a code that is already there)."""

    code = Code.BAD_USER_INPUT

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.message)
        self.extensions = {"code": error.code.value, "field": error.field}


class QueryTooComplex(ApiError):
    code = Code.QUERY_TOO_COMPLEX


UserErrorCode = strawberry.enum(
    ErrorCode, name="UserErrorCode", description="Why a mutation did nothing."
)


@strawberry.type(description="A business or validation failure; the mutation wrote nothing.")
class UserError:
    code: UserErrorCode  # type: ignore[valid-type]
    field: str | None = strawberry.field(
        default=None, description="The input field at fault (camelCase), if one is."
    )
    message: str
    existing_id: strawberry.ID | None = strawberry.field(
        default=None, description="For DUPLICATE: the global id of the existing object."
    )


def user_error_from(error: DomainError) -> UserError:
    existing_key = error.existing_key if isinstance(error, Duplicate) else None
    if not existing_key:
        return UserError(code=error.code, field=error.field, message=error.message)
    from prm.graphql.relay import encode_global_id  # relay imports this module

    type_name, _, pk = existing_key.partition(":")
    existing_id = strawberry.ID(encode_global_id(type_name, uuid.UUID(pk)))
    return UserError(
        code=error.code,
        field=error.field,
        message=f"{error.message} (existing: {existing_id})",
        existing_id=existing_id,
    )


def with_code(error: GraphQLError, code: Code) -> GraphQLError:
    """Tag `error` with `code` unless it already carries one."""
    if not (error.extensions or {}).get("code"):
        error.extensions = {**(error.extensions or {}), "code": code.value}
    return error


def is_expected(error: GraphQLError) -> bool:
    """Whether `error` may reach the client as is (else it is masked and logged).

    Expected: errors GraphQL itself raises (parse, validation, coercion: no original
    error, or a GraphQL error), our `ApiError`s and `DomainError`s, and a scalar's
    `ValueError` while coercing input: it has the offending nodes but no response path.
    """
    original = error.original_error
    if original is None or isinstance(original, GraphQLError | ApiError | DomainError):
        return True
    return error.path is None and bool(error.nodes)


def code_for(error: GraphQLError) -> Code:
    """The code of an expected error that was raised without one."""
    original = error.original_error
    if isinstance(original, DomainError):
        return Code.FORBIDDEN if original.code == ErrorCode.FORBIDDEN else Code.BAD_USER_INPUT
    return Code.BAD_USER_INPUT
