"""Capabilities that require a certification: the tenant's list, which lead routing and
pool claims read through `prm.leads.eligibility.certified_for`.

A requirement changes who is eligible from the next routing decision on; offers already
made stand. Admins set and clear requirements; every user of the tenant may read them, so
a partner sees what it must be certified for. Functions never commit.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, Role
from prm.errors import Forbidden, InvalidInput
from prm.partners.models import CapabilityCertification
from prm.partners.service import MAX_CAPABILITY

MAX_CERTIFICATION = 100
"""As `training_records.certification`, which a requirement is matched against."""
MAX_REQUIREMENTS = 500
"""Per tenant: keeps the list (returned whole) and routing's probe bounded."""


def _capability(value: str) -> str:
    """Lower-cased like partner capabilities and rule capabilities, so they match."""
    text = (value or "").strip().lower()
    if not text:
        raise InvalidInput("must not be blank", field="capability")
    if len(text) > MAX_CAPABILITY:
        raise InvalidInput(f"must be at most {MAX_CAPABILITY} characters", field="capability")
    return text


def _certification(value: str) -> str:
    """Trimmed only: training records keep the certification as recorded."""
    text = (value or "").strip()
    if not text:
        raise InvalidInput("must not be blank", field="certification")
    if len(text) > MAX_CERTIFICATION:
        raise InvalidInput(f"must be at most {MAX_CERTIFICATION} characters", field="certification")
    return text


async def set_capability_certification(
    session: AsyncSession, principal: Principal, *, capability: str, certification: str | None
) -> CapabilityCertification | None:
    """Require `certification` for `capability` (replacing an earlier requirement), or,
    with `certification` None, drop the requirement. Returns the requirement now in force."""
    if not principal.has_any(Role.ADMIN):
        raise Forbidden("only admins set certification requirements")
    clean_capability = _capability(capability)
    if certification is None:
        await session.execute(
            delete(CapabilityCertification).where(
                CapabilityCertification.tenant_id == principal.tenant_id,
                CapabilityCertification.capability == clean_capability,
            )
        )
        return None
    clean_certification = _certification(certification)
    existing = select(func.count()).where(
        CapabilityCertification.tenant_id == principal.tenant_id,
        CapabilityCertification.capability != clean_capability,
    )
    if (await session.scalar(existing) or 0) >= MAX_REQUIREMENTS:
        raise InvalidInput(
            f"a tenant may require certifications for at most {MAX_REQUIREMENTS} capabilities",
            field="capability",
        )
    statement = (
        insert(CapabilityCertification)
        .values(
            tenant_id=principal.tenant_id,
            capability=clean_capability,
            certification=clean_certification,
        )
        .on_conflict_do_update(
            index_elements=["tenant_id", "capability"],
            set_={"certification": clean_certification, "updated_at": func.now()},
        )
        .returning(CapabilityCertification)
    )
    row = await session.scalar(
        select(CapabilityCertification).from_statement(statement),
        execution_options={"populate_existing": True},
    )
    return row


async def list_capability_certifications(
    session: AsyncSession, principal: Principal
) -> list[CapabilityCertification]:
    """The tenant's requirements, by capability."""
    rows = await session.scalars(
        select(CapabilityCertification)
        .where(CapabilityCertification.tenant_id == principal.tenant_id)
        .order_by(CapabilityCertification.capability)
        .limit(MAX_REQUIREMENTS)
    )
    return list(rows)
