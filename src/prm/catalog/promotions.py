"""Promotions: time-boxed discounts, a percentage or an amount off the unit price,
optionally behind a code and aimed at tiers, regions, partners and products (an empty
list means no restriction; API.md's pricing section).

What pricing (`pricing.promotion_applies`) relies on, enforced here: exactly one of
`discount_percent` (0 < p ≤ 100) and `discount_amount` (> 0, in `currency`); a window
with `ends_at > starts_at` (running means `starts_at ≤ at < ends_at`); regions stored
trimmed and upper-cased, so matching a partner's country or region is one comparison;
codes unique per tenant case-insensitively; target ids that exist in the tenant.

Ending a promotion moves its end to now, so everything that reads the window (pricing,
`visibility.readable_promotions`) stops applying or showing it at once; `ended_at`
records that it was ended rather than run out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import (
    ARRAY,
    Select,
    Uuid,
    any_,
    bindparam,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.catalog.models import Product, Promotion
from prm.catalog.visibility import (
    aimed_at_partner,
    own_partner,
    readable_promotions,
    require_catalog_manager,
    running_at,
)
from prm.crm.fields import optional_text, required_text
from prm.errors import DomainError, Duplicate, ErrorCode, InvalidInput, NotFound
from prm.money import Money, normalise_currency
from prm.partners.models import Partner, PartnerTier

MAX_DESCRIPTION = 2_000
MAX_REGION = 100
MAX_TARGETS = 1_000
"""Ids or regions one target list may hold."""
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{3,64}$")
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
EPSILON = timedelta(microseconds=1)


# Reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromotionCriteria:
    """What `promotions` may be narrowed by; every field optional, all combine.
    `active_at`: running then. `product_id` / `partner_id`: applying to that product /
    aimed at that partner (untargeted promotions included)."""

    active_at: datetime | None = None
    code: str | None = None
    product_id: uuid.UUID | None = None
    partner_id: uuid.UUID | None = None


def list_promotions(principal: Principal, criteria: PromotionCriteria) -> Select[Promotion]:
    """The promotions `principal` may see, narrowed by `criteria`: staff every one (only
    those running at `active_at`, when given); a partner user those aimed at it and
    running at `active_at` (default now)."""
    at = _moment(criteria.active_at, "activeAt")
    statement = readable_promotions(principal, at or datetime.now(UTC))
    partner = own_partner(principal)
    if partner is None:  # staff (anyone else sees nothing anyway)
        if at is not None:
            statement = statement.where(running_at(at))
        if criteria.partner_id is not None:
            statement = statement.where(aimed_at_partner(principal.tenant_id, criteria.partner_id))
    elif criteria.partner_id is not None and criteria.partner_id != partner:
        statement = statement.where(false())  # a partner user sees no other partner
    if criteria.code is not None and criteria.code.strip():
        statement = statement.where(func.lower(Promotion.code) == criteria.code.strip().lower())
    if criteria.product_id is not None:
        statement = statement.where(
            or_(
                func.cardinality(Promotion.product_ids) == 0,
                literal(criteria.product_id, Uuid()) == any_(Promotion.product_ids),
            )
        )
    return statement


async def get_promotion(
    session: AsyncSession,
    principal: Principal,
    promotion_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> Promotion:
    """A promotion of the tenant for its catalog managers, or `NOT_FOUND` on `id`."""
    statement = readable_promotions(principal, datetime.now(UTC)).where(
        Promotion.id == promotion_id
    )
    if for_update:
        statement = statement.with_for_update()
    promotion = await session.scalar(statement)
    if promotion is None:
        raise NotFound("no such promotion", field="id")
    return promotion


# Writing ------------------------------------------------------------------------------


class PromotionFields(TypedDict, total=False):
    """A promotion's input. For a create every key not given takes its default; for an
    update absent keys stay, and a given discount replaces the other kind (a
    `discount_percent` clears the amount and its currency, and vice versa). Ids that named
    nothing are None in `tier_ids` / `partner_ids` / `product_ids` (`NOT_FOUND`)."""

    name: str | None
    description: str | None
    code: str | None
    discount_percent: Decimal | None
    discount_amount: Decimal | None
    currency: str | None
    tier_ids: Sequence[uuid.UUID | None] | None
    regions: Sequence[str] | None
    partner_ids: Sequence[uuid.UUID | None] | None
    product_ids: Sequence[uuid.UUID | None] | None
    starts_at: datetime | None
    ends_at: datetime | None
    stackable: bool | None
    usage_cap: int | None


async def create_promotion(
    session: AsyncSession, principal: Principal, fields: PromotionFields
) -> Promotion:
    """A new promotion (module doc for the rules)."""
    require_catalog_manager(principal)
    promotion = Promotion(
        tenant_id=principal.tenant_id,
        stackable=False,
        usage_count=0,
        tier_ids=[],
        regions=[],
        partner_ids=[],
        product_ids=[],
    )
    if fields.get("starts_at") is None:
        raise InvalidInput("is required", field="startsAt")
    if fields.get("ends_at") is None:
        raise InvalidInput("is required", field="endsAt")
    await _apply(session, principal, promotion, {"name": None, **fields}, creating=True)
    session.add(promotion)
    await session.flush()
    return promotion


async def update_promotion(
    session: AsyncSession,
    principal: Principal,
    promotion_id: uuid.UUID,
    fields: PromotionFields,
) -> Promotion:
    """Change the given fields; the result obeys the same rules as a new promotion, and
    its usage cap stays at or above the uses already counted. An ended promotion no
    longer changes (`INVALID_TRANSITION`)."""
    require_catalog_manager(principal)
    promotion = await get_promotion(session, principal, promotion_id, for_update=True)
    if promotion.ended_at is not None:
        raise DomainError(
            "the promotion was ended; it cannot change",
            field="id",
            code=ErrorCode.INVALID_TRANSITION,
        )
    await _apply(session, principal, promotion, fields, creating=False)
    await session.flush()
    return promotion


async def end_promotion(
    session: AsyncSession, principal: Principal, promotion_id: uuid.UUID
) -> Promotion:
    """End a running or future promotion now: it applies and shows no more. One that has
    not started gets the shortest past window the database allows (ending now), since a
    promotion's end must follow its start."""
    require_catalog_manager(principal)
    promotion = await get_promotion(session, principal, promotion_id, for_update=True)
    now = datetime.now(UTC)
    if promotion.ended_at is not None:
        raise DomainError(
            "the promotion was already ended", field="id", code=ErrorCode.INVALID_TRANSITION
        )
    if promotion.ends_at <= now:
        raise DomainError(
            "the promotion is already over", field="id", code=ErrorCode.INVALID_TRANSITION
        )
    if promotion.starts_at >= now:
        promotion.starts_at = now - EPSILON
    promotion.ends_at = now
    promotion.ended_at = now
    await session.flush()
    return promotion


async def _apply(
    session: AsyncSession,
    principal: Principal,
    promotion: Promotion,
    fields: PromotionFields,
    *,
    creating: bool,
) -> None:
    """Validate `fields` against what `promotion` holds and set them, or raise before
    anything is set."""
    values: dict[str, Any] = {}
    if "name" in fields:
        values["name"] = required_text(fields["name"] or "", field="name")
    if "description" in fields:
        values["description"] = optional_text(
            fields["description"], field="description", max_length=MAX_DESCRIPTION
        )
    percent, amount, currency = _discount(promotion, fields, creating=creating)
    values.update(discount_percent=percent, discount_amount=amount, currency=currency)
    if "code" in fields:
        values["code"] = await _code(session, principal, fields["code"], promotion.id)
    starts_at = _moment(fields["starts_at"], "startsAt") if "starts_at" in fields else None
    ends_at = _moment(fields["ends_at"], "endsAt") if "ends_at" in fields else None
    if "starts_at" in fields and starts_at is None:
        raise InvalidInput("must not be null", field="startsAt")
    if "ends_at" in fields and ends_at is None:
        raise InvalidInput("must not be null", field="endsAt")
    start = starts_at or promotion.starts_at
    end = ends_at or promotion.ends_at
    if end <= start:
        raise InvalidInput("a promotion cannot end before it starts", field="endsAt")
    values.update(starts_at=start, ends_at=end)
    if "stackable" in fields:
        if fields["stackable"] is None:
            raise InvalidInput("must not be null", field="stackable")
        values["stackable"] = fields["stackable"]
    if "usage_cap" in fields:
        values["usage_cap"] = _usage_cap(fields["usage_cap"], promotion.usage_count or 0)
    if "regions" in fields:
        values["regions"] = _regions(fields["regions"] or ())
    targets = (
        ("tier_ids", "tierIds", PartnerTier, "no such tier"),
        ("partner_ids", "partnerIds", Partner, "no such partner"),
        ("product_ids", "productIds", Product, "no such product"),
    )
    for key, field, model, message in targets:
        if key in fields:
            given: Sequence[uuid.UUID | None] = fields[key] or ()  # type: ignore[literal-required]
            values[key] = await _existing_ids(session, principal, model, given, field, message)
    for key, value in values.items():
        setattr(promotion, key, value)


def _discount(
    promotion: Promotion, fields: PromotionFields, *, creating: bool
) -> tuple[Decimal | None, Decimal | None, str | None]:
    """The resulting (percent, amount, currency), validated."""
    percent, amount, currency = (
        (None, None, None)
        if creating
        else (
            promotion.discount_percent,
            # Stored with four decimals: only its value counts against the currency.
            promotion.discount_amount.normalize() if promotion.discount_amount else None,
            promotion.currency,
        )
    )
    if "discount_percent" in fields:
        percent = fields["discount_percent"]
        if percent is not None and "discount_amount" not in fields:
            amount = None
    if "discount_amount" in fields:
        amount = fields["discount_amount"]
        if amount is not None and "discount_percent" not in fields:
            percent = None
    if "currency" in fields:
        currency = (fields["currency"] or "").strip() or None
    elif amount is None:
        currency = None
    if percent is None and amount is None:
        raise InvalidInput("give discountPercent or discountAmount", field="discountPercent")
    if percent is not None and amount is not None:
        raise InvalidInput(
            "give discountPercent or discountAmount, not both", field="discountAmount"
        )
    if percent is not None:
        if currency is not None:
            raise InvalidInput("a percentage discount has no currency", field="currency")
        return _percent(percent), None, None
    assert amount is not None
    if currency is None:
        raise InvalidInput("is required with discountAmount", field="currency")
    code = normalise_currency(currency)
    try:
        money = Money.parse(amount, code, field="discountAmount")
    except InvalidInput as error:  # a bare Decimal input: no .amount sub-field
        raise InvalidInput(error.message, field="discountAmount") from error
    if money.amount <= 0:
        raise InvalidInput("must be more than 0", field="discountAmount")
    return None, money.amount, code


def _percent(value: Decimal) -> Decimal:
    if not value.is_finite() or not (0 < value <= HUNDRED):
        raise InvalidInput("must be more than 0 and at most 100", field="discountPercent")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise InvalidInput("has at most 2 decimal places", field="discountPercent")
    return value.quantize(CENT)


async def _code(
    session: AsyncSession, principal: Principal, value: str | None, own_id: uuid.UUID | None
) -> str | None:
    """A trimmed code of 3 to 64 letters, digits, `_` and `-`, unique in the tenant
    case-insensitively (`DUPLICATE`); blank means none."""
    if value is None or not value.strip():
        return None
    code = value.strip()
    if not CODE_PATTERN.match(code):
        raise InvalidInput("must be 3 to 64 letters, digits, underscores or hyphens", field="code")
    statement = select(Promotion.id).where(
        Promotion.tenant_id == principal.tenant_id, func.lower(Promotion.code) == code.lower()
    )
    if own_id is not None:
        statement = statement.where(Promotion.id != own_id)
    existing = await session.scalar(statement.limit(1))
    if existing is not None:
        raise Duplicate(
            f"a promotion with the code {code!r} exists",
            field="code",
            existing_key=f"Promotion:{existing}",
        )
    return code


def _moment(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput("must include a time zone", field=field)
    return value.astimezone(UTC)


def _usage_cap(value: int | None, used: int) -> int | None:
    if value is None:
        return None
    if value < 1:
        raise InvalidInput("must be at least 1", field="usageCap")
    if value < used:
        raise InvalidInput(f"must not be below the {used} uses already counted", field="usageCap")
    return value


def _regions(values: Sequence[str]) -> list[str]:
    """Trimmed, upper-cased, de-duplicated (first occurrence kept)."""
    if len(values) > MAX_TARGETS:
        raise _too_many("regions")
    found: dict[str, None] = {}
    for index, value in enumerate(values):
        region = value.strip().upper()
        if not region:
            raise InvalidInput("must not be blank", field=f"regions.{index}")
        if len(region) > MAX_REGION:
            raise InvalidInput(f"must be at most {MAX_REGION} characters", field=f"regions.{index}")
        found.setdefault(region)
    return list(found)


async def _existing_ids(
    session: AsyncSession,
    principal: Principal,
    model: type[PartnerTier] | type[Partner] | type[Product],
    given: Sequence[uuid.UUID | None],
    field: str,
    message: str,
) -> list[uuid.UUID]:
    """`given` de-duplicated (first occurrence kept), each a row of the tenant: one
    statement; the first that is not is `NOT_FOUND` on `field.N`."""
    if len(given) > MAX_TARGETS:
        raise _too_many(field)
    wanted = list(dict.fromkeys(pk for pk in given if pk is not None))
    found: set[uuid.UUID] = set()
    if wanted:
        found = set(
            await session.scalars(
                select(model.id).where(
                    model.tenant_id == principal.tenant_id,
                    model.id == any_(bindparam(f"{field}_ids", wanted, type_=ARRAY(Uuid()))),
                )
            )
        )
    for index, pk in enumerate(given):
        if pk is None or pk not in found:
            raise NotFound(message, field=f"{field}.{index}")
    return wanted


def _too_many(field: str) -> DomainError:
    return DomainError(f"at most {MAX_TARGETS} at once", field=field, code=ErrorCode.LIMIT_EXCEEDED)
