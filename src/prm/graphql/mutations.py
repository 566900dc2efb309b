"""Mutations: one transaction each, one audit entry each, one error shape.

    @strawberry.type
    class Mutation:
        @mutation(UserPayload, roles=(Role.ADMIN,))
        async def invite_user(self, info: Info, input: InviteUserInput) -> UserPayload:
            user = await service.invite_user(info.context.session, principal, ...)
            return UserPayload(user=UserType.from_model(user))

`@mutation` (which includes `@strawberry.mutation`) gives every resolver, for free:

- authentication (`UNAUTHENTICATED`) and the optional role check (`FORBIDDEN`), before
  anything runs;
- one transaction: on success an `AuditEntry` (principal, operation, the `Node`s in the
  payload plus `context.audit_object_ids`, request id) is added and everything commits,
  then `context.after_commit` callbacks run;
- on a `prm.errors.DomainError` (or a payload returned with `errors`) a rollback and
  the payload with `errors: [UserError]`: nothing is written, not even the audit entry. A
  unique-constraint violation is reported as `DUPLICATE`. A domain `Forbidden` becomes the
  `FORBIDDEN` transport error; any other exception rolls back and is masked.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Concatenate, ParamSpec, TypeVar

import strawberry
from sqlalchemy.exc import IntegrityError
from strawberry.types.field import StrawberryField

from prm.auth.principal import Role
from prm.errors import DomainError, Duplicate, ErrorCode
from prm.graphql.context import Context
from prm.graphql.errors import Forbidden, UserError, user_error_from
from prm.graphql.permissions import require_roles
from prm.graphql.relay import Node
from prm.tenants.audit import record_audit

UNIQUE_VIOLATION = "23505"


@strawberry.type
class Payload:
    """Base of every `XPayload`: subclasses add their object fields, defaulting to None."""

    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Empty on success; else why nothing was written."
    )


P = TypeVar("P", bound=Payload)
A = ParamSpec("A")


def mutation(
    payload: type[P],
    *,
    roles: Iterable[Role] = (),
    description: str | None = None,
) -> Callable[[Callable[Concatenate[Any, A], Awaitable[P]]], StrawberryField]:
    """Declare a transactional, audited mutation returning `payload` (see module doc).
    The resolver must take an `info` argument."""
    required = tuple(roles)

    def decorate(resolver: Callable[Concatenate[Any, A], Awaitable[P]]) -> StrawberryField:
        if "info" not in inspect.signature(resolver).parameters:
            raise TypeError(f"{resolver.__qualname__} must take an `info` argument")

        @functools.wraps(resolver)
        async def run(root: Any, *args: A.args, **kwargs: A.kwargs) -> P:
            info = kwargs["info"]
            context: Context = info.context  # type: ignore[attr-defined]
            principal = require_roles(context, *required)
            try:
                result = await resolver(root, *args, **kwargs)
                if result.errors:
                    await context.rollback()
                    return result
                keys = [*_node_keys(result), *context.audit_object_ids]
                await record_audit(
                    context.session,
                    principal,
                    operation=info.field_name,  # type: ignore[attr-defined]
                    object_ids=keys,
                    request_id=context.request_id,
                )
                await context.commit()
                return result
            except DomainError as error:
                await context.rollback()
                if error.code == ErrorCode.FORBIDDEN:
                    raise Forbidden(error.message) from error
                return payload(errors=[user_error_from(error)])
            except IntegrityError as error:
                await context.rollback()
                if _sqlstate(error) != UNIQUE_VIOLATION:
                    raise
                duplicate = Duplicate("conflicts with an existing record")
                return payload(errors=[user_error_from(duplicate)])
            except BaseException:
                await context.rollback()
                raise

        return strawberry.mutation(description=description)(run)

    return decorate


def _node_keys(result: Payload) -> list[str]:
    keys: list[str] = []
    for field in dataclasses.fields(result):
        value = getattr(result, field.name, None)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Node):
                keys.append(item.node_key)
    return keys


def _sqlstate(error: IntegrityError) -> str | None:
    original = error.orig
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return str(code) if code else None
