"""Domain errors. Each carries the `UserErrorCode` the API reports it as; the GraphQL
layer maps them to `UserError` in one place. Domains raise these, never GraphQL errors."""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    DUPLICATE = "DUPLICATE"
    ALREADY_CLAIMED = "ALREADY_CLAIMED"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    EXPIRED = "EXPIRED"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    FORBIDDEN = "FORBIDDEN"


class DomainError(Exception):
    """A business or validation failure: reported to the caller, nothing written."""

    code: ErrorCode = ErrorCode.INVALID

    def __init__(self, message: str, *, field: str | None = None, code: ErrorCode | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    code = ErrorCode.INVALID


class NotFound(DomainError):
    """Also what a caller gets for an object it may not see: existence does not leak."""

    code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    code = ErrorCode.CONFLICT


class Duplicate(DomainError):
    """`existing_key` (`Type:uuid`, as the audit log writes it) names the record this one
    would duplicate, when the caller may see it."""

    code = ErrorCode.DUPLICATE

    def __init__(
        self, message: str, *, field: str | None = None, existing_key: str | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.existing_key = existing_key


class Forbidden(DomainError):
    """The *operation* is not allowed to this principal (objects use NotFound)."""

    code = ErrorCode.FORBIDDEN
