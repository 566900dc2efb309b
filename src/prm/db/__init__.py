"""Database access: engines, tenant-scoped sessions, the declarative base, ids and RLS."""
