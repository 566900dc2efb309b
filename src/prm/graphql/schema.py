"""The schema, assembled from per-domain modules.

A domain `x` contributes `prm/graphql/x/queries.py` with a `Query` class,
`prm/graphql/x/mutations.py` with a `Mutation` class and/or
`prm/graphql/x/subscriptions.py` with a `Subscription` class (plain `@strawberry.type`s), and
joins the API by adding its name to `DOMAINS`: one line. Its `types.py` registers its
`Node` types with `relay.register_node` when imported.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from graphql import GraphQLError
from prm.graphql import relay
from prm.graphql.extensions import log_unexpected, schema_extensions
from prm.settings import Settings, get_settings

DOMAINS: tuple[str, ...] = (
    "tenants",
    "partners",
    "employees",
    "crm",
    "leads",
    "deals",
    "lead_imports",
    "products",
    "price_books",
    "promotions",
    "pricing",
    "quotes",
    "stock",
    "erm",
    "scorecards",
    "performance",
    "customer_metrics",
    "notifications",
    "programs",
    "onboarding",
    "mdf",
    "incentives",
    "lead_sla",
    "cases",
    "marketing",
    "recommendations",
    "webhooks",
    "subscriptions",
    "jobs",
)


class PrmSchema(strawberry.Schema):
    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """One result per request: a subscription, which needs a stream (a WebSocket), is
        refused (HTTP 400) instead of its root resolver running as a query."""
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        return await super().execute(
            query,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            allowed_operation_types=allowed - {OperationType.SUBSCRIPTION},
            operation_extensions=operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log unexpected errors (with the request id) before they are masked; expected
        ones are the caller's business and stay out of the error log."""
        log_unexpected(errors, execution_context.context if execution_context else None)


def _domain_classes(kind: str, attribute: str) -> list[type[Any]]:
    found: list[type[Any]] = []
    for domain in DOMAINS:
        name = f"prm.graphql.{domain}.{kind}"
        if importlib.util.find_spec(name) is not None:
            found.append(getattr(importlib.import_module(name), attribute))
    return found


def build_schema(settings: Settings | None = None) -> PrmSchema:
    """The schema with the limits and toggles of `settings` (the SDL does not depend on them)."""
    settings = settings or get_settings()
    for domain in DOMAINS:
        types_module = f"prm.graphql.{domain}.types"
        if importlib.util.find_spec(types_module) is not None:
            importlib.import_module(types_module)
    query = merge_types("Query", (relay.Query, *_domain_classes("queries", "Query")))
    mutations = _domain_classes("mutations", "Mutation")
    mutation = merge_types("Mutation", tuple(mutations)) if mutations else None
    subscriptions = _domain_classes("subscriptions", "Subscription")
    subscription = merge_types("Subscription", tuple(subscriptions)) if subscriptions else None
    return PrmSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=relay.node_types(),
        extensions=schema_extensions(settings),
    )


schema = build_schema()
"""The default schema (`prm schema export` prints it)."""
