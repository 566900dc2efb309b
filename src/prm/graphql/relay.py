"""Relay: the `Node` interface, opaque global ids, and `node(id:)` / `nodes(ids:)`.

A global id is `base64("<GraphQL type name>:<uuid>")`. Clients must treat it as opaque.

A type joins by implementing `Node` (it then holds its primary key in the private `pk`)
and registering how to fetch one for the caller:

    @strawberry.type(name="User")
    class UserType(Node): ...

    @register_node(UserType)
    async def _load_user(context: Context, pk: uuid.UUID) -> UserType | None:
        ...  # a loader look-up plus the domain's visibility rule; None if not visible

`node(id:)` answers null for garbage, unknown types, other tenants' rows and rows the
caller may not see alike, so an id never reveals whether something exists.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from strawberry.types.base import get_object_definition

from prm.errors import NotFound
from prm.graphql.context import Context, Info
from prm.graphql.errors import BadUserInput
from prm.graphql.permissions import require_principal


def encode_global_id(type_name: str, pk: uuid.UUID) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode("ascii")


def decode_global_id(value: str) -> tuple[str, uuid.UUID] | None:
    """`(type name, uuid)` of a well-formed global id, else None."""
    if not value or len(value) > 200:
        return None
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
        type_name, _, pk = raw.partition(":")
        return (type_name, uuid.UUID(pk)) if type_name else None
    except (ValueError, UnicodeError, binascii.Error):
        return None


def pk_of(value: str | None, *type_names: str) -> uuid.UUID | None:
    """The uuid in a global id of one of `type_names`, or None (absent, garbage, other type)."""
    if value is None:
        return None
    decoded = decode_global_id(value)
    if decoded is None or decoded[0] not in type_names:
        return None
    return decoded[1]


def require_pk(value: str, type_name: str, *, field: str) -> uuid.UUID:
    """The uuid in a global id referenced by a mutation input, or a `NOT_FOUND` user error."""
    pk = pk_of(value, type_name)
    if pk is None:
        raise NotFound(f"no such {type_name}", field=field)
    return pk


N = TypeVar("N", bound="Node")


@strawberry.interface(name="Node", description="An object with an opaque global id.")
class Node:
    pk: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The object's opaque global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_global_id(node_type_name(type(self)), self.pk))

    @classmethod
    def from_row(cls: type[N], row: Any, **overrides: Any) -> N:
        """The type built from a model row: `pk` from `row.id`, every other field from the
        row's attribute of the same name, unless given in `overrides` (for fields that are
        converted, renamed or private)."""
        values: dict[str, Any] = {"pk": row.id}
        for field in dataclasses.fields(cls):
            if field.init and field.name not in values and field.name not in overrides:
                values[field.name] = getattr(row, field.name)
        return cls(**values, **overrides)

    @property
    def node_key(self) -> str:
        """`Type:uuid`, the form the audit log stores."""
        return f"{node_type_name(type(self))}:{self.pk}"


NodeLoader = Callable[[Context, uuid.UUID], Awaitable[Node | None]]
_loaders: dict[str, NodeLoader] = {}
_types: dict[str, type[Node]] = {}


def node_type_name(cls: type[Node]) -> str:
    return get_object_definition(cls, strict=True).name


def register_node(
    cls: type[N],
) -> Callable[[Callable[[Context, uuid.UUID], Awaitable[N | None]]], NodeLoader]:
    """Make `node(id:)` resolve ids of `cls` with the decorated loader."""

    def decorate(load: Callable[[Context, uuid.UUID], Awaitable[N | None]]) -> NodeLoader:
        _loaders[node_type_name(cls)] = load
        _types[node_type_name(cls)] = cls
        return load

    return decorate


def node_types() -> list[type[Node]]:
    """Every registered `Node` type: the schema includes them even if no field returns one."""
    return list(_types.values())


async def resolve_node(context: Context, global_id: str) -> Node | None:
    decoded = decode_global_id(global_id)
    if decoded is None or context.principal is None:
        return None
    load = _loaders.get(decoded[0])
    return await load(context, decoded[1]) if load else None


@strawberry.type
class Query:
    @strawberry.field(description="Any object the caller may see, by global id; else null.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        require_principal(info)
        return await resolve_node(info.context, id)

    @strawberry.field(description="Several objects by global id, in order; null where unseen.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
        require_principal(info)
        if len(ids) > info.context.settings.max_page_size:
            raise BadUserInput(f"at most {info.context.settings.max_page_size} ids at once")
        return list(await asyncio.gather(*(resolve_node(info.context, gid) for gid in ids)))
