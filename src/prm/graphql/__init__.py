"""The GraphQL API: schema assembly, request context, conventions, per-domain modules.

Conventions every domain module follows (see each module's docstring):

- `context.py`: `Context` (principal, one session per request, loaders, request id).
- `relay.py`: the `Node` interface, global ids and the `node(id:)` registry.
- `pagination.py`: keyset connections (`paginate`).
- `mutations.py`: the `@mutation` decorator (one transaction, audit entry, payload errors).
- `permissions.py`: `require_principal`, `require_roles`.
- `errors.py`: transport error codes and `UserError`.
- `schema.py`: `DOMAINS`, the list a new domain joins with one line.
"""
