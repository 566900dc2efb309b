"""Prometheus metrics: HTTP requests, GraphQL operations by name and outcome, latency,
and jobs by kind and outcome.

Under several server processes set `PROMETHEUS_MULTIPROC_DIR` (the prometheus_client
convention) and `/metrics` aggregates every process.
"""

from __future__ import annotations

import os
import re
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "prm_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "prm_http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
GRAPHQL_OPERATIONS = Counter(
    "prm_graphql_operations_total",
    "GraphQL operations by name, type and outcome (ok, error)",
    ["operation", "type", "outcome"],
)
GRAPHQL_LATENCY = Histogram(
    "prm_graphql_operation_duration_seconds",
    "GraphQL operation latency by name",
    ["operation", "type"],
    buckets=LATENCY_BUCKETS,
)
CLIENT_DISCONNECTS = Counter(
    "prm_client_disconnects_total", "Requests whose client left before the body was read"
)
JOBS = Counter("prm_jobs_total", "Jobs run by kind and outcome", ["kind", "outcome"])
JOB_LATENCY = Histogram(
    "prm_job_duration_seconds", "Job run time by kind", ["kind"], buckets=LATENCY_BUCKETS
)

# Known routes only; anything else is one label, so scanners cannot explode cardinality.
_ROUTES = {"/graphql", "/oauth/token", "/.well-known/jwks.json", "/healthz", "/readyz", "/metrics"}


# Operation names come from clients: only well-formed ones become labels, and at most
# MAX_OPERATION_NAMES distinct ones per process, so a hostile client cannot grow the series.
MAX_OPERATION_NAMES = 200
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_seen_operations: set[str] = set()


def operation_label(operation: str | None) -> str:
    if not operation:
        return "anonymous"
    if not _OPERATION_NAME.match(operation):
        return "other"
    if operation not in _seen_operations:
        if len(_seen_operations) >= MAX_OPERATION_NAMES:
            return "other"
        _seen_operations.add(operation)
    return operation


def record_graphql(operation: str | None, op_type: str, *, ok: bool, seconds: float) -> None:
    name = operation_label(operation)
    GRAPHQL_OPERATIONS.labels(name, op_type, "ok" if ok else "error").inc()
    GRAPHQL_LATENCY.labels(name, op_type).observe(seconds)


def record_job(kind: str, *, ok: bool, seconds: float) -> None:
    JOBS.labels(kind, "succeeded" if ok else "failed").inc()
    JOB_LATENCY.labels(kind).observe(seconds)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


CLIENT_CLOSED = 499
"""The status counted for a request whose client left before any response."""


class HttpMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        route = path if path in _ROUTES else "other"
        method = scope.get("method", "GET")
        status: int | None = None
        started = time.perf_counter()

        async def send_capturing(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_capturing)
        except BaseException:
            status = status or 500
            raise
        finally:
            # No response and no error: the client hung up first (nginx's 499), not a
            # server error.
            HTTP_REQUESTS.labels(method, route, str(status or CLIENT_CLOSED)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
