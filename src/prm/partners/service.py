"""Partner tiers and organisations: who may see and change them, and the rules.

Only an ADMIN (or an API client with the admin scope) creates and changes tiers and
partners. Tenant staff read every partner; a partner user reads only its own
organisation. Tiers are the partner programme's published levels: every principal of the
tenant reads them. A partner's status moves only along `TRANSITIONS`, through
`set_partner_status` (or its initial value at creation). Functions never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypedDict

import pycountry
from sqlalchemy import Select, cast, false, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal, Role, is_staff
from prm.errors import Duplicate, ErrorCode, Forbidden, InvalidInput, NotFound
from prm.partners.models import Partner, PartnerStatus, PartnerTier

TRANSITIONS: dict[PartnerStatus, frozenset[PartnerStatus]] = {
    PartnerStatus.ONBOARDING: frozenset({PartnerStatus.ACTIVE, PartnerStatus.SUSPENDED}),
    PartnerStatus.ACTIVE: frozenset({PartnerStatus.SUSPENDED}),
    PartnerStatus.SUSPENDED: frozenset({PartnerStatus.ACTIVE}),
}
MAX_NAME = 200
MAX_TIER_NAME = 100
MAX_REGION = 100
MAX_REASON = 500
MAX_NOTES = 10_000
MAX_LIST_ITEMS = 200
MAX_POSTAL_PREFIX = 20
MAX_CAPABILITY = 100
MAX_RANK = 1_000_000
MAX_LEAD_WEIGHT = Decimal("9999999.999")


class TierChanges(TypedDict, total=False):
    """The fields a tier update sets; absent keys stay as they are."""

    name: str
    rank: int
    discount_percent: Decimal
    lead_weight: Decimal


class PartnerChanges(TypedDict, total=False):
    """The fields a partner update sets; absent keys stay, None clears a nullable one.
    `status` is accepted only when it equals the current one: it changes through
    `set_partner_status`."""

    name: str
    tier_id: uuid.UUID | None
    status: PartnerStatus
    country: str | None
    region: str | None
    postal_prefixes: Sequence[str] | None
    capabilities: Sequence[str] | None
    capacity: int | None
    discount_percent: Decimal | None
    notes: str | None


# Visibility ----------------------------------------------------------------------------


def can_read_partner(principal: Principal, partner_id: uuid.UUID) -> bool:
    """Tenant staff see every partner; a partner user only its own organisation."""
    return is_staff(principal) or principal.partner_id == partner_id


def readable_partners(principal: Principal) -> Select[Partner]:
    """The partners `principal` may list (unordered)."""
    statement = select(Partner).where(Partner.tenant_id == principal.tenant_id)
    if is_staff(principal):
        return statement
    if principal.partner_id is not None:
        return statement.where(Partner.id == principal.partner_id)
    return statement.where(false())


def filter_partners(
    statement: Select[Partner],
    *,
    status: PartnerStatus | None = None,
    tier_id: uuid.UUID | None = None,
    country: str | None = None,
    region: str | None = None,
    capability: str | None = None,
    search: str | None = None,
) -> Select[Partner]:
    if status is not None:
        statement = statement.where(Partner.status == status)
    if tier_id is not None:
        statement = statement.where(Partner.tier_id == tier_id)
    if country is not None:
        statement = statement.where(Partner.country == country.strip().upper())
    if region is not None:
        statement = statement.where(Partner.region == region.strip())
    if capability is not None:
        wanted = cast(postgresql.array([capability.strip().lower()]), Partner.capabilities.type)
        statement = statement.where(Partner.capabilities.op("@>")(wanted))  # GIN-indexed
    if search and search.strip():
        escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(Partner.name.ilike(f"%{escaped}%", escape="\\"))
    return statement


def readable_tiers(principal: Principal) -> Select[PartnerTier]:
    """The tenant's tiers by rank, ascending (a higher rank is a higher tier)."""
    return (
        select(PartnerTier)
        .where(PartnerTier.tenant_id == principal.tenant_id)
        .order_by(PartnerTier.rank, PartnerTier.name, PartnerTier.id)
    )


# Validation ----------------------------------------------------------------------------


def _require_admin(principal: Principal) -> None:
    if not principal.has_any(Role.ADMIN):
        raise Forbidden("only an admin may manage partners and tiers")


def _name(value: str | None, *, limit: int, field: str = "name") -> str:
    if value is None:
        raise InvalidInput("must not be null", field=field)
    value = value.strip()
    if not value:
        raise InvalidInput("must not be blank", field=field)
    if len(value) > limit:
        raise InvalidInput(f"must be at most {limit} characters", field=field)
    return value


def _optional_text(value: str | None, *, limit: int, field: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput(f"must be at most {limit} characters", field=field)
    return value


def normalise_country(value: str | None, *, field: str = "country") -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased; None for none."""
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise InvalidInput("must be an ISO 3166-1 alpha-2 country code", field=field)
    return code


def _items(values: Sequence[str] | None, *, limit: int, field: str, upper: bool) -> list[str]:
    cleaned = {v.strip().upper() if upper else v.strip().lower() for v in values or ()}
    cleaned.discard("")
    if len(cleaned) > MAX_LIST_ITEMS:
        raise InvalidInput(f"must have at most {MAX_LIST_ITEMS} entries", field=field)
    if any(len(item) > limit for item in cleaned):
        raise InvalidInput(f"entries must be at most {limit} characters", field=field)
    return sorted(cleaned)


def _capacity(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise InvalidInput("must not be negative", field="capacity")
    return value


def _rank(value: int) -> int:
    if not 0 <= value <= MAX_RANK:
        raise InvalidInput(f"must be between 0 and {MAX_RANK}", field="rank")
    return value


def _decimal(value: Decimal, *, field: str, high: Decimal, places: int) -> Decimal:
    if value is None or not value.is_finite():
        raise InvalidInput("must be a finite number", field=field)
    if not Decimal(0) <= value <= high:
        raise InvalidInput(f"must be between 0 and {high}", field=field)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise InvalidInput(f"must have at most {places} decimal places", field=field)
    return value.quantize(Decimal(1).scaleb(-places))  # as stored, so every read agrees


def _discount(value: Decimal) -> Decimal:
    return _decimal(value, field="discountPercent", high=Decimal(100), places=2)


def _partner_discount(value: Decimal | None) -> Decimal | None:
    """A partner's own discount (the PARTNER pricing step): none, or 0 to 100."""
    return None if value is None else _discount(value)


def _lead_weight(value: Decimal) -> Decimal:
    return _decimal(value, field="leadWeight", high=MAX_LEAD_WEIGHT, places=3)


async def _tier_name_free(
    session: AsyncSession, principal: Principal, name: str, *, own_id: uuid.UUID | None
) -> None:
    """Tier names are unique per tenant, ignoring case."""
    statement = select(PartnerTier.id).where(
        PartnerTier.tenant_id == principal.tenant_id,
        func.lower(PartnerTier.name) == name.lower(),
    )
    if own_id is not None:
        statement = statement.where(PartnerTier.id != own_id)
    if await session.scalar(statement) is not None:
        raise Duplicate(f"a tier named {name!r} exists", field="name")


async def _tier_rank(session: AsyncSession, principal: Principal, tier_id: uuid.UUID) -> int:
    """The rank of a tier of the tenant (NOT_FOUND otherwise). A trigger copies it onto
    the partner too; setting it here keeps the row in hand current."""
    rank = await session.scalar(
        select(PartnerTier.rank).where(
            PartnerTier.tenant_id == principal.tenant_id, PartnerTier.id == tier_id
        )
    )
    if rank is None:
        raise NotFound("no such tier", field="tierId")
    return int(rank)


# Tiers ---------------------------------------------------------------------------------


async def create_tier(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    rank: int,
    discount_percent: Decimal,
    lead_weight: Decimal,
) -> PartnerTier:
    _require_admin(principal)
    clean_name = _name(name, limit=MAX_TIER_NAME)
    tier = PartnerTier(
        tenant_id=principal.tenant_id,
        name=clean_name,
        rank=_rank(rank),
        discount_percent=_discount(discount_percent),
        lead_weight=_lead_weight(lead_weight),
    )
    await _tier_name_free(session, principal, clean_name, own_id=None)
    session.add(tier)
    await session.flush()
    return tier


async def update_tier(
    session: AsyncSession, principal: Principal, tier_id: uuid.UUID, changes: TierChanges
) -> PartnerTier:
    """Apply `changes`; a new rank reaches the tier's partners' `tier_rank` by trigger."""
    _require_admin(principal)
    tier = await session.scalar(
        select(PartnerTier)
        .where(PartnerTier.tenant_id == principal.tenant_id, PartnerTier.id == tier_id)
        .with_for_update()
    )
    if tier is None:
        raise NotFound("no such tier", field="id")
    if "name" in changes:
        clean_name = _name(changes["name"], limit=MAX_TIER_NAME)
        await _tier_name_free(session, principal, clean_name, own_id=tier.id)
        tier.name = clean_name
    if "discount_percent" in changes:
        tier.discount_percent = _discount(changes["discount_percent"])
    if "lead_weight" in changes:
        tier.lead_weight = _lead_weight(changes["lead_weight"])
    if "rank" in changes:
        tier.rank = _rank(changes["rank"])
    await session.flush()
    return tier


# Partners ------------------------------------------------------------------------------


async def create_partner(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    tier_id: uuid.UUID | None = None,
    status: PartnerStatus = PartnerStatus.ONBOARDING,
    country: str | None = None,
    region: str | None = None,
    postal_prefixes: Sequence[str] = (),
    capabilities: Sequence[str] = (),
    capacity: int | None = None,
    discount_percent: Decimal | None = None,
    notes: str | None = None,
) -> Partner:
    """A partner organisation; it may start in any status (ONBOARDING by default).
    `discount_percent` is its own discount on every price, on top of its tier's."""
    _require_admin(principal)
    partner = Partner(
        tenant_id=principal.tenant_id,
        name=_name(name, limit=MAX_NAME),
        tier_id=tier_id,
        status=status,
        status_changed_at=datetime.now(UTC),
        country=normalise_country(country),
        region=_optional_text(region, limit=MAX_REGION, field="region"),
        postal_prefixes=_items(
            postal_prefixes, limit=MAX_POSTAL_PREFIX, field="postalPrefixes", upper=True
        ),
        capabilities=_items(capabilities, limit=MAX_CAPABILITY, field="capabilities", upper=False),
        capacity=_capacity(capacity),
        discount_percent=_partner_discount(discount_percent),
        notes=_optional_text(notes, limit=MAX_NOTES, field="notes"),
    )
    if tier_id is not None:
        partner.tier_rank = await _tier_rank(session, principal, tier_id)
    session.add(partner)
    await session.flush()
    return partner


async def _partner_for_update(
    session: AsyncSession, principal: Principal, partner_id: uuid.UUID
) -> Partner:
    partner = await session.scalar(
        select(Partner)
        .where(Partner.tenant_id == principal.tenant_id, Partner.id == partner_id)
        .with_for_update()
    )
    if partner is None:
        raise NotFound("no such partner", field="id")
    return partner


async def update_partner(
    session: AsyncSession, principal: Principal, partner_id: uuid.UUID, changes: PartnerChanges
) -> Partner:
    """Apply `changes` after validating them all; the status is not changed here."""
    _require_admin(principal)
    partner = await _partner_for_update(session, principal, partner_id)
    if "status" in changes and changes["status"] != partner.status:
        raise InvalidInput(
            "the status changes only through setPartnerStatus",
            field="status",
            code=ErrorCode.INVALID_TRANSITION,
        )
    if "name" in changes:
        partner.name = _name(changes["name"], limit=MAX_NAME)
    if "tier_id" in changes:
        tier_id = changes["tier_id"]
        partner.tier_rank = (
            await _tier_rank(session, principal, tier_id) if tier_id is not None else None
        )
        partner.tier_id = tier_id
    if "country" in changes:
        partner.country = normalise_country(changes["country"])
    if "region" in changes:
        partner.region = _optional_text(changes["region"], limit=MAX_REGION, field="region")
    if "postal_prefixes" in changes:
        partner.postal_prefixes = _items(
            changes["postal_prefixes"],
            limit=MAX_POSTAL_PREFIX,
            field="postalPrefixes",
            upper=True,
        )
    if "capabilities" in changes:
        partner.capabilities = _items(
            changes["capabilities"], limit=MAX_CAPABILITY, field="capabilities", upper=False
        )
    if "capacity" in changes:
        partner.capacity = _capacity(changes["capacity"])
    if "discount_percent" in changes:
        partner.discount_percent = _partner_discount(changes["discount_percent"])
    if "notes" in changes:
        partner.notes = _optional_text(changes["notes"], limit=MAX_NOTES, field="notes")
    await session.flush()
    return partner


async def set_partner_status(
    session: AsyncSession,
    principal: Principal,
    partner_id: uuid.UUID,
    *,
    status: PartnerStatus,
    reason: str | None = None,
) -> Partner:
    """Move a partner along `TRANSITIONS` (anything else is INVALID_TRANSITION),
    recording why and when."""
    _require_admin(principal)
    partner = await _partner_for_update(session, principal, partner_id)
    if status not in TRANSITIONS[partner.status]:
        raise InvalidInput(
            f"a partner cannot go from {partner.status.value} to {status.value}",
            field="status",
            code=ErrorCode.INVALID_TRANSITION,
        )
    partner.status = status
    partner.status_reason = _optional_text(reason, limit=MAX_REASON, field="reason")
    partner.status_changed_at = datetime.now(UTC)
    await session.flush()
    return partner
