"""prm: a multi-tenant partner relationship management backend with a GraphQL API."""

__version__ = "0.1.0"
