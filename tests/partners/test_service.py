"""Rules for creating partner tiers and partners."""

from __future__ import annotations

from decimal import Decimal

import pytest

from prm.auth.principal import Principal, Role
from prm.db.engine import Database
from prm.errors import Duplicate, Forbidden, InvalidInput, NotFound
from prm.partners.models import PartnerStatus
from prm.partners.service import create_partner, create_tier
from tests.factories import make_tenant


@pytest.mark.asyncio
async def test_an_admin_creates_a_tier_and_a_partner_in_it(database: Database) -> None:
    made = await make_tenant(database)
    admin = Principal.system(made.id)
    async with database.session(made.id) as session:
        tier = await create_tier(
            session,
            admin,
            name="Gold",
            rank=2,
            discount_percent=Decimal("12.5"),
            lead_weight=Decimal(2),
        )
        partner = await create_partner(
            session,
            admin,
            name=" Acme ",
            tier_id=tier.id,
            country="us",
            postal_prefixes=["940 ", "940", "941"],
            capabilities=["Cloud", "cloud"],
        )
    assert partner.name == "Acme"
    assert partner.country == "US"
    assert partner.status is PartnerStatus.ONBOARDING
    assert partner.postal_prefixes == ["940", "941"]
    assert partner.capabilities == ["cloud"]


@pytest.mark.asyncio
async def test_tier_rules(database: Database) -> None:
    made = await make_tenant(database)
    admin = Principal.system(made.id)
    async with database.session(made.id) as session:
        await create_tier(
            session, admin, name="Gold", rank=1, discount_percent=Decimal(5), lead_weight=Decimal(1)
        )
        with pytest.raises(Duplicate):
            await create_tier(
                session,
                admin,
                name="Gold",
                rank=2,
                discount_percent=Decimal(5),
                lead_weight=Decimal(1),
            )
        with pytest.raises(InvalidInput):
            await create_tier(
                session,
                admin,
                name="X",
                rank=2,
                discount_percent=Decimal(101),
                lead_weight=Decimal(1),
            )
        with pytest.raises(InvalidInput):
            await create_tier(
                session,
                admin,
                name="Y",
                rank=2,
                discount_percent=Decimal(1),
                lead_weight=Decimal(-1),
            )


@pytest.mark.asyncio
async def test_partner_rules(database: Database) -> None:
    made = await make_tenant(database)
    other = await make_tenant(database)
    admin = Principal.system(made.id)
    async with database.session(other.id) as session:
        foreign_tier = await create_tier(
            session,
            Principal.system(other.id),
            name="T",
            rank=1,
            discount_percent=Decimal(0),
            lead_weight=Decimal(1),
        )
    async with database.session(made.id) as session:
        with pytest.raises(InvalidInput):
            await create_partner(session, admin, name="X", country="USA")
        with pytest.raises(InvalidInput):
            await create_partner(session, admin, name="  ")
        with pytest.raises(NotFound):
            await create_partner(session, admin, name="X", tier_id=foreign_tier.id)
        rep = Principal(
            tenant_id=made.id, kind="user", subject_id=None, roles=frozenset({Role.MANAGER})
        )
        with pytest.raises(Forbidden):
            await create_partner(session, rep, name="X")
