"""A Strawberry schema extension that counts GraphQL operations by name, type and outcome.

It hooks the whole operation once (not each resolver), so it costs nothing on hot paths.
An operation with any error (including a mutation payload's transport error, not its
`errors` list of business failures) counts as `error`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from prm.ops.metrics import record_graphql


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            op_type = context.operation_type.value
        except RuntimeError:  # the document did not parse
            op_type = "invalid"
        errors = context.pre_execution_errors or (context.result.errors if context.result else None)
        record_graphql(
            context.operation_name,
            op_type,
            ok=not errors,
            seconds=time.perf_counter() - started,
        )
