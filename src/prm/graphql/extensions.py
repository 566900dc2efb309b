"""Schema extensions: limits, error policy, metrics. `schema_extensions(settings)` returns
factories (Strawberry builds fresh instances per operation, so no state is shared between
concurrent requests)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)

from graphql import ASTValidationRule, GraphQLError, GraphQLSyntaxError, ValidationContext
from prm.graphql.errors import Code, code_for, is_expected, with_code
from prm.ops.metrics import record_graphql
from prm.settings import Settings

log = logging.getLogger("prm.graphql")


def _too_complex(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    """`rule`, with every error it reports tagged `QUERY_TOO_COMPLEX` (Strawberry's limiters
    report plain validation errors, some from their constructor)."""

    class Tagged(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            report = context.on_error

            def tagged(error: GraphQLError) -> None:
                report(with_code(error, Code.QUERY_TOO_COMPLEX))

            context.on_error = tagged  # type: ignore[method-assign]
            try:
                super().__init__(context)
            finally:
                context.on_error = report  # type: ignore[method-assign]

        def report_error(self, error: GraphQLError) -> None:
            super().report_error(with_code(error, Code.QUERY_TOO_COMPLEX))

    Tagged.__name__ = Tagged.__qualname__ = rule.__name__
    return Tagged


class TokenLimit(MaxTokensLimiter):
    """graphql-core aborts parsing past the limit with a syntax error; tag that one."""

    def on_parse(self) -> Iterator[None]:
        yield
        marker = f"more than {self.max_token_count} tokens"
        for error in self.execution_context.pre_execution_errors or []:
            if isinstance(error, GraphQLSyntaxError) and marker in error.message:
                with_code(error, Code.QUERY_TOO_COMPLEX)


class ErrorPolicy(MaskErrors):
    """Unexpected errors become `INTERNAL_SERVER_ERROR` (message masked, request id kept
    for support; the real exception is logged by `PrmSchema.process_errors`); every
    other error leaves with an `extensions.code`."""

    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda error: not is_expected(error),
            error_message="Internal server error.",
        )

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        request_id = getattr(self.execution_context.context, "request_id", None)
        masked.extensions = {"code": Code.INTERNAL_SERVER_ERROR.value, "requestId": request_id}
        return masked

    def on_operation(self) -> Iterator[None]:
        yield from super().on_operation()
        for error in getattr(self.execution_context.result, "errors", None) or []:
            with_code(error, code_for(error))


class OperationMetrics(SchemaExtension):
    """Counts and times operations by name, type and outcome (Prometheus)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            op_type = context.operation_type.value
        except Exception:  # unparsable document: no operation type to report
            op_type = "unknown"
        errors = getattr(context.result, "errors", None)
        record_graphql(
            context.operation_name,
            op_type,
            ok=not errors,
            seconds=time.perf_counter() - started,
        )


def limit_rules(settings: Settings) -> list[type[ASTValidationRule]]:
    """The depth and alias limits as validation rules, built once per schema: stable rule
    classes are what lets `ValidationCache` reuse a document's validation across requests."""
    limiters = [
        QueryDepthLimiter(max_depth=settings.max_query_depth),
        MaxAliasesLimiter(max_alias_count=settings.max_aliases),
    ]
    return [_too_complex(rule) for limiter in limiters for rule in limiter.validation_rules]


CACHED_DOCUMENTS = 512
"""Distinct documents whose validation is kept (LRU, per process; graphql-core documents
hash and compare by content). Parsing is not cached: Strawberry's `ParserCache` would
bypass the token limit's and the error policy's handling of syntax errors."""


def schema_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """Order matters on the way out: hooks exit in reverse, so `ErrorPolicy` (second)
    sees every error last but one, and `OperationMetrics` (first) sees the final result.
    On the way in, every rule is added before `ValidationCache` validates with them."""
    rules = limit_rules(settings)
    factories: list[Callable[[], SchemaExtension]] = [
        OperationMetrics,
        ErrorPolicy,
        lambda: TokenLimit(max_token_count=settings.max_tokens),
        lambda: AddValidationRules(rules),
    ]
    if not settings.introspection:
        factories.append(DisableIntrospection)
    factories.append(lambda: ValidationCache(maxsize=CACHED_DOCUMENTS))
    return factories


def log_unexpected(errors: list[GraphQLError], context: Any) -> None:
    request_id = getattr(context, "request_id", None)
    for error in errors:
        if not is_expected(error):
            log.error(
                "unexpected error in GraphQL resolver at %s (request %s)",
                ".".join(str(part) for part in error.path or []),
                request_id,
                exc_info=error.original_error,
            )
