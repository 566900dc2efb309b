"""Benefits of program levels taking effect outside the programs domain: the partner tier
a level grants (its discount and lead weight) and the deal-protection days.

- Tier: a partner's `tier_id` becomes the highest-ranked tier granted by any level it is
  on in an active program. A partner none of whose levels grants a tier keeps the tier
  an admin gave it. One UPDATE for the whole tenant (or some partners), which changes
  only rows whose tier differs, so running it again writes nothing.
- Deal protection: an approved registration protects the partner for the larger of the
  tenant's `deal_protection_days` and its levels' `deal_protection_days`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from prm.partners.models import Partner, PartnerTier
from prm.partners.program_models import ChannelProgram, ProgramEnrolment, ProgramLevel
from prm.tenants.models import Tenant

DEFAULT_PROTECTION_DAYS = 90
"""What deals used before a tenant set its own."""


def levels_held(tenant_id: uuid.UUID, *columns: Any) -> Select[Any]:
    """`columns` over the levels the tenant's partners are on in active programs: one row
    per enrolment (ProgramEnrolment joined to its ProgramLevel and ChannelProgram), for
    every benefit that follows a partner's levels (tier, protection days, MDF)."""
    return (
        select(*columns)
        .select_from(ProgramEnrolment)
        .join(
            ProgramLevel,
            and_(
                ProgramLevel.tenant_id == ProgramEnrolment.tenant_id,
                ProgramLevel.id == ProgramEnrolment.level_id,
            ),
        )
        .join(
            ChannelProgram,
            and_(
                ChannelProgram.tenant_id == ProgramEnrolment.tenant_id,
                ChannelProgram.id == ProgramEnrolment.program_id,
            ),
        )
        .where(ProgramEnrolment.tenant_id == tenant_id, ChannelProgram.active.is_(True))
    )


def sync_partner_tiers(
    session: Session, tenant_id: uuid.UUID, *, partner_ids: Iterable[uuid.UUID] | None = None
) -> int:
    """Give each enrolled partner the best tier its levels grant; returns rows changed."""
    granted = (
        levels_held(tenant_id, ProgramEnrolment.partner_id, PartnerTier.id.label("tier_id"))
        .join(
            PartnerTier,
            and_(
                PartnerTier.tenant_id == ProgramLevel.tenant_id,
                PartnerTier.id == ProgramLevel.tier_id,
            ),
        )
        .ext(distinct_on(ProgramEnrolment.partner_id))
        .order_by(ProgramEnrolment.partner_id, PartnerTier.rank.desc(), PartnerTier.id)
    )
    if partner_ids is not None:
        granted = granted.where(ProgramEnrolment.partner_id.in_(list(partner_ids)))
    best = granted.subquery()
    result = session.execute(
        update(Partner)
        .where(
            Partner.tenant_id == tenant_id,
            Partner.id == best.c.partner_id,
            Partner.tier_id.is_distinct_from(best.c.tier_id),
        )
        .values(tier_id=best.c.tier_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def deal_protection_days(session: Session, tenant_id: uuid.UUID, partner_id: uuid.UUID) -> int:
    """The days an approved registration of `partner_id` is protected: the most of the
    tenant's days and those of the partner's levels (in active programs)."""
    levels = (
        levels_held(tenant_id, func.max(ProgramLevel.deal_protection_days))
        .where(ProgramEnrolment.partner_id == partner_id)
        .scalar_subquery()
    )
    days = session.scalar(
        select(
            func.greatest(
                func.coalesce(func.nullif(Tenant.deal_protection_days, 0), DEFAULT_PROTECTION_DAYS),
                levels,
            )
        ).where(Tenant.id == tenant_id)
    )
    return int(days if days is not None else DEFAULT_PROTECTION_DAYS)
