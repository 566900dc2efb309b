"""Schema extensions: limits, error policy, metrics. `schema_extensions(settings)` returns
factories (Strawberry builds fresh instances per operation, so no state is shared between
concurrent requests).

Hostile documents are refused with `QUERY_TOO_COMPLEX` (HTTP 200 under
`application/json`, 400 under `application/graphql-response+json`, no `data`):

- too many tokens (`max_tokens`, while parsing), too deep (`max_query_depth`), too many
  aliases (`max_aliases`, counted through fragments);
- too costly (`QueryCost`, before validation):
  - more than `max_query_cost` nodes (GitHub's node-limit model): a connection may return
    its page size (`first`, capped at `max_page_size`; `default_page_size` when absent),
    and a connection nested in another counts that many times per item of its parent, so
    nested `first`s multiply (`partners(first: 500) { … leads(first: 500) }`: 250,500);
  - more than `MAX_EXPANDED_FIELDS` fields once fragments are expanded where spread.
    Strawberry's depth and alias limiters expand fragments without memo: a few dozen
    fragments each spreading the next twice ("fragment bomb", well under the token
    limit) would keep them busy for hours. This check costs each fragment once;
- fragments that spread themselves (graphql-core's `NoFragmentCyclesRule`, re-tagged).

Batches (a JSON array of operations) are refused by the router (`prm.graphql.router`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    NoFragmentCyclesRule,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    VariableNode,
    get_named_type,
)
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
    """graphql-core aborts parsing past the token limit, or past its own nesting limit, with
    a syntax error; tag those."""

    def on_parse(self) -> Iterator[None]:
        yield
        markers = (f"more than {self.max_token_count} tokens", "nested too deeply")
        for error in self.execution_context.pre_execution_errors or []:
            if isinstance(error, GraphQLSyntaxError) and any(m in error.message for m in markers):
                with_code(error, Code.QUERY_TOO_COMPLEX)


class LimitRules(AddValidationRules):
    """Adds the depth and alias limits, and swaps graphql-core's fragment-cycle rule for one
    that reports `QUERY_TOO_COMPLEX` (a cycle is unbounded recursion, not a typo)."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = tuple(
            TAGGED_FRAGMENT_CYCLES if rule is NoFragmentCyclesRule else rule
            for rule in context.validation_rules
        )
        yield from super().on_operation()


MAX_EXPANDED_FIELDS = 10_000
"""Fields a document may hold once its fragments are expanded where they are spread."""


class QueryCost(ValidationCache):
    """`ValidationCache`, preceded by the cost check (see the module's docstring). The check
    needs the variables, so its verdict is not cached; it is linear in the document's size."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(maxsize=CACHED_DOCUMENTS)
        self.settings = settings

    def on_validate(self) -> Iterator[None]:
        error = self.too_costly()
        if error is None:
            yield from super().on_validate()
            return
        self.execution_context.pre_execution_errors = [error]
        yield

    def too_costly(self) -> GraphQLError | None:
        context = self.execution_context
        if context.graphql_document is None:
            return None
        budget = self.settings.max_query_cost
        try:
            cost = operation_cost(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables if isinstance(context.variables, dict) else {},
                default_page=self.settings.default_page_size,
                max_page=self.settings.max_page_size,
            )
        except RecursionError:  # nested past Python's stack: far past any depth limit
            cost = Cost(fields=MAX_EXPANDED_FIELDS + 1, nodes=0)
        if cost.fields > MAX_EXPANDED_FIELDS:
            message = (
                f"the query holds {cost.fields} fields once its fragments are expanded, "
                f"more than {MAX_EXPANDED_FIELDS}"
            )
        elif cost.nodes > budget:
            message = (
                f"the query may return {cost.nodes} nodes, more than the budget of {budget} "
                "(a connection counts its page size, and nested pages multiply)"
            )
        else:
            return None
        return GraphQLError(message, extensions={"code": Code.QUERY_TOO_COMPLEX.value})


@dataclass(frozen=True)
class Cost:
    """`fields`: the document's size with fragments expanded (what validators walk);
    `nodes`: the most items its connections may return (GitHub's node limit model)."""

    fields: int
    nodes: int

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.fields + other.fields, self.nodes + other.nodes)


NO_COST = Cost(0, 0)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any],
    *,
    default_page: int,
    max_page: int,
) -> Cost:
    """The cost of the operation `operation_name` selects (none if none does: validation or
    execution reports that). Each fragment is costed once (costs are linear in the number
    of parent items), so fragment bombs cost nothing to measure. Robust to documents not
    validated yet: unknown fields and fragments count as leaves, a cycle counts nothing."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        op
        for op in operations
        if operation_name is None or (op.name is not None and op.name.value == operation_name)
    ]
    if len(chosen) != 1:
        return NO_COST
    operation = chosen[0]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    defaults = {
        definition.variable.name.value: definition.default_value
        for definition in operation.variable_definitions or ()
    }
    memo: dict[str, Cost] = {}
    walking: set[str] = set()

    def page_size(node: FieldNode, parent: Any) -> int | None:
        """The page a connection field returns (`first`, capped), None for other fields."""
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return None
        definition = parent.fields.get(node.name.value)
        if definition is None or "first" not in definition.args:
            return None
        value: object = None
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            literal = argument.value
            if isinstance(literal, VariableNode):
                name = literal.name.value
                value = variables.get(name, defaults.get(name))
                if isinstance(value, IntValueNode):
                    value = value.value
            elif isinstance(literal, IntValueNode):
                value = literal.value
            else:
                value = max_page  # not an integer: refused later; count it at the cap
        try:
            size = default_page if value is None else int(str(value))
        except ValueError:
            size = max_page
        return max(0, min(size, max_page))

    def selection_cost(selection_set: SelectionSetNode | None, parent: Any) -> Cost:
        """The cost of `selection_set` for one item of `parent`."""
        total = NO_COST
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                child = None
                if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                    definition = parent.fields.get(selection.name.value)
                    child = get_named_type(definition.type) if definition else None
                sub = selection_cost(selection.selection_set, child)
                page = page_size(selection, parent)
                nodes = sub.nodes if page is None else page + page * sub.nodes
                total += Cost(1 + sub.fields, nodes)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                scope = schema.get_type(condition.name.value) if condition else parent
                total += selection_cost(selection.selection_set, scope)
            elif isinstance(selection, FragmentSpreadNode):
                total += fragment_cost(selection.name.value)
        return total

    def fragment_cost(name: str) -> Cost:
        if name in memo:
            return memo[name]
        fragment = fragments.get(name)
        if fragment is None or name in walking:
            return NO_COST
        walking.add(name)
        cost = selection_cost(
            fragment.selection_set, schema.get_type(fragment.type_condition.name.value)
        )
        walking.discard(name)
        memo[name] = cost
        return cost

    return selection_cost(operation.selection_set, schema.get_root_type(operation.operation))


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


TAGGED_FRAGMENT_CYCLES = _too_complex(NoFragmentCyclesRule)
"""Built once: `ValidationCache` keys on the rule classes."""

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
        lambda: LimitRules(rules),
    ]
    if not settings.introspection:
        factories.append(DisableIntrospection)
    factories.append(lambda: QueryCost(settings))
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
