"""Types only subscriptions return."""

from __future__ import annotations

import enum

import strawberry

from prm.graphql.leads.types import LeadType


@strawberry.enum(name="LeadPoolChangeKind")
class LeadPoolChangeKind(enum.Enum):
    POOLED = "POOLED"
    CLAIMED = "CLAIMED"


@strawberry.type(
    name="LeadPoolChange",
    description="A lead entered the claim pool or was claimed from it.",
)
class LeadPoolChange:
    kind: LeadPoolChangeKind
    lead_id: strawberry.ID = strawberry.field(description="The lead's global id.")
    lead: LeadType | None = strawberry.field(
        description="The lead, if the caller may see it (a lead claimed by another partner "
        "is no longer in the caller's pool: null)."
    )
