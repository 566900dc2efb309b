"""The job kinds prm knows: `domain.verb` names mapped to the service functions they run.

A kind is validated when a job is enqueued (an unknown or misspelt kind is an error in
the requesting transaction, not a message no worker can handle) and turned into a
Dramatiq actor per broker (`prm.workers.actors.declare_actors`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prm.errors import InvalidInput

JobResult = Mapping[str, Any] | None
JobFunction = Callable[..., JobResult]
"""`fn(session, principal, **job.args)`: a service function run in the job's transaction.
It never commits; what it returns (JSON) is stored as the job's result."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class JobKind:
    name: str
    """`domain.verb`: also the Dramatiq actor name."""
    run: JobFunction
    queue: str = "default"
    max_retries: int = 3
    """Retries after the first attempt for unexpected errors; a `DomainError` is final."""
    min_backoff_ms: int = 1_000
    max_backoff_ms: int = 300_000
    time_limit_ms: int = 10 * 60_000

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"job kind {self.name!r} must be named 'domain.verb'")


class UnknownJobKind(InvalidInput):
    """A job kind no service handles."""


class JobRegistry:
    """An explicit, ordered set of job kinds (see `prm.workers.kinds.JOBS`)."""

    def __init__(self, kinds: tuple[JobKind, ...] = ()) -> None:
        self._kinds: dict[str, JobKind] = {}
        for kind in kinds:
            self.register(kind)

    def register(self, kind: JobKind) -> JobKind:
        if kind.name in self._kinds:
            raise ValueError(f"job kind {kind.name!r} is already registered")
        self._kinds[kind.name] = kind
        return kind

    def unregister(self, name: str) -> None:
        self._kinds.pop(name, None)

    def get(self, name: str) -> JobKind:
        try:
            return self._kinds[name]
        except KeyError:
            raise UnknownJobKind(f"unknown job kind {name!r}", field="kind") from None

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[JobKind]:
        return iter(list(self._kinds.values()))
