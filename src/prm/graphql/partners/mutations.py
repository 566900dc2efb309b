"""Mutations of the partners domain (admins, and API clients with the admin scope)."""

from __future__ import annotations

from typing import Any

import strawberry

from prm.auth.principal import Role
from prm.errors import InvalidInput
from prm.graphql.context import Info
from prm.graphql.mutations import Payload, mutation
from prm.graphql.partners.inputs import (
    CreatePartnerInput,
    CreatePartnerTierInput,
    UpdatePartnerInput,
    UpdatePartnerTierInput,
)
from prm.graphql.partners.types import (
    CapabilityCertificationType,
    PartnerStatusEnum,
    PartnerTierType,
    PartnerType,
)
from prm.graphql.permissions import require_principal
from prm.graphql.relay import require_pk
from prm.partners import service
from prm.partners.capability_certifications import set_capability_certification
from prm.partners.models import PartnerStatus

ADMIN = (Role.ADMIN,)


@strawberry.type
class PartnerTierPayload(Payload):
    partner_tier: PartnerTierType | None = None


@strawberry.type
class PartnerPayload(Payload):
    partner: PartnerType | None = None


@strawberry.type
class CapabilityCertificationPayload(Payload):
    capability_certification: CapabilityCertificationType | None = None


def _given(input: object, *names: str) -> dict[str, Any]:
    """The fields of an update input the caller gave (null included), by snake_case name."""
    return {
        name: getattr(input, name) for name in names if getattr(input, name) is not strawberry.UNSET
    }


@strawberry.type
class Mutation:
    @mutation(PartnerTierPayload, roles=ADMIN, description="Add a tier (admins only).")
    async def create_partner_tier(
        self, info: Info, input: CreatePartnerTierInput
    ) -> PartnerTierPayload:
        tier = await service.create_tier(
            info.context.session,
            require_principal(info),
            name=input.name,
            rank=input.rank,
            discount_percent=input.discount_percent,
            lead_weight=input.lead_weight,
        )
        return PartnerTierPayload(partner_tier=PartnerTierType.from_model(tier))

    @mutation(PartnerTierPayload, roles=ADMIN, description="Change a tier (admins only).")
    async def update_partner_tier(
        self, info: Info, id: strawberry.ID, input: UpdatePartnerTierInput
    ) -> PartnerTierPayload:
        changes = _given(input, "name", "rank", "discount_percent", "lead_weight")
        for name, value in changes.items():
            if value is None:
                raise InvalidInput("must not be null", field=_camel(name))
        tier = await service.update_tier(
            info.context.session,
            require_principal(info),
            require_pk(id, "PartnerTier", field="id"),
            service.TierChanges(**changes),  # type: ignore[typeddict-item]
        )
        return PartnerTierPayload(partner_tier=PartnerTierType.from_model(tier))

    @mutation(
        CapabilityCertificationPayload,
        roles=ADMIN,
        description="Require `certification` for `capability` (replacing an earlier "
        "requirement), or with `certification` null drop it; from the next routing decision "
        "on, rules asking for the capability pass over partners without it (admins only).",
    )
    async def set_capability_certification(
        self, info: Info, capability: str, certification: str | None = None
    ) -> CapabilityCertificationPayload:
        row = await set_capability_certification(
            info.context.session,
            require_principal(info),
            capability=capability,
            certification=certification,
        )
        return CapabilityCertificationPayload(
            capability_certification=CapabilityCertificationType.from_model(row) if row else None
        )

    @mutation(PartnerPayload, roles=ADMIN, description="Add a partner organisation (admins only).")
    async def create_partner(self, info: Info, input: CreatePartnerInput) -> PartnerPayload:
        tier_id = (
            require_pk(input.tier_id, "PartnerTier", field="tierId") if input.tier_id else None
        )
        partner = await service.create_partner(
            info.context.session,
            require_principal(info),
            name=input.name,
            tier_id=tier_id,
            status=PartnerStatus(input.status) if input.status else PartnerStatus.ONBOARDING,
            country=input.country,
            region=input.region,
            postal_prefixes=input.postal_prefixes or (),
            capabilities=input.capabilities or (),
            capacity=input.capacity,
            discount_percent=input.discount_percent,
            notes=input.notes,
        )
        return PartnerPayload(partner=PartnerType.from_model(partner))

    @mutation(
        PartnerPayload,
        roles=ADMIN,
        description="Change a partner's details; its status changes with setPartnerStatus.",
    )
    async def update_partner(
        self, info: Info, id: strawberry.ID, input: UpdatePartnerInput
    ) -> PartnerPayload:
        changes = _given(
            input,
            "name",
            "tier_id",
            "status",
            "country",
            "region",
            "postal_prefixes",
            "capabilities",
            "capacity",
            "discount_percent",
            "notes",
        )
        if changes.get("tier_id") is not None:
            changes["tier_id"] = require_pk(changes["tier_id"], "PartnerTier", field="tierId")
        if "status" in changes:
            if changes["status"] is None:
                raise InvalidInput("must not be null", field="status")
            changes["status"] = PartnerStatus(changes["status"])
        partner = await service.update_partner(
            info.context.session,
            require_principal(info),
            require_pk(id, "Partner", field="id"),
            service.PartnerChanges(**changes),  # type: ignore[typeddict-item]
        )
        return PartnerPayload(partner=PartnerType.from_model(partner))

    @mutation(
        PartnerPayload,
        roles=ADMIN,
        description="Move a partner to another status: ONBOARDING to ACTIVE or SUSPENDED, "
        "ACTIVE to SUSPENDED, SUSPENDED to ACTIVE; anything else is INVALID_TRANSITION.",
    )
    async def set_partner_status(
        self,
        info: Info,
        id: strawberry.ID,
        status: PartnerStatusEnum,  # type: ignore[valid-type]
        reason: str | None = None,
    ) -> PartnerPayload:
        partner = await service.set_partner_status(
            info.context.session,
            require_principal(info),
            require_pk(id, "Partner", field="id"),
            status=PartnerStatus(status),
            reason=reason,
        )
        return PartnerPayload(partner=PartnerType.from_model(partner))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
