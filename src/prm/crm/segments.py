"""Marketing segments: saved, validated filters over accounts and contacts, compiled to one
set-based SQL statement whose rows are the contacts the segment reaches.

Filters (all optional; given ones are ANDed; a list matches any of its values):

- `industries`: the contact's account has one of these industries (exact, trimmed);
- `countries`: the contact's account is in one of these ISO 3166-1 alpha-2 countries;
- `lifetime_value_min` / `_max`: the account's realised lifetime value is within the band
  (both ends inclusive). The definition is `Account.lifetimeValue`'s
  (`prm.metrics.lifetime_value`: Σ of CLOSED_WON amounts in the tenant's default
  currency), but set-based: that module answers for a list of account ids, a segment
  needs every account at once, so `won_by_account` here is the same sum as one GROUP BY
  over the tenant's won deals. An account without a won deal counts as 0 in a band (so
  `max` alone also reaches prospects);
- `last_purchase_after` / `_before`: the account's last won deal (greatest `closed_at`
  of its CLOSED_WON opportunities, any currency) closed on or after the `after` day, and
  before the `before` day (UTC, `before` exclusive); accounts that never bought match
  neither;
- `min_lead_score`: a lead scored at least N is the contact's (its email, compared
  lower-cased; leads store email lower-cased) or was converted into a deal of the
  contact's account (`opportunities.source_lead_id`): "whose account has or had a lead
  scored >= N".

Account-level filters need an account: contacts without one match only segments that
have none. Opted-out contacts (`marketing_opt_out`) never match, whatever the filters.

The stored JSON (`segments.filters`) holds only validated values under fixed keys
(`SegmentFilters.to_json`), so it always compiles; invalid input is INVALID naming the
field (`filters.<name>`), and nothing is written.

Segments are read by tenant staff and written by admins and managers; partner users
never see them (a partner must not learn the tenant's customer base).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, Uuid, and_, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Subquery

from prm.auth.principal import Principal, Role, is_staff
from prm.crm.fields import country_code, optional_text, required_text
from prm.crm.marketing_models import Segment
from prm.crm.models import Account, Contact, Opportunity, OpportunityStage
from prm.crm.names import refuse_taken_name
from prm.errors import Forbidden, InvalidInput, NotFound
from prm.leads.models import Lead
from prm.metrics.periods import MAX_YEAR, MIN_YEAR
from prm.money import Money
from prm.tenants.models import Tenant

MARKETERS = (Role.ADMIN, Role.MANAGER)
MAX_VALUES = 100
MAX_INDUSTRY = 100
MAX_DESCRIPTION = 4000
MAX_PREVIEW = 100


def require_marketing_reader(principal: Principal) -> None:
    if not is_staff(principal):
        raise Forbidden("marketing is for tenant staff")


def require_marketer(principal: Principal) -> None:
    if not principal.has_any(*MARKETERS):
        raise Forbidden("segments and campaigns are managed by admins and managers")


async def tenant_currency(session: AsyncSession, tenant_id: uuid.UUID) -> str:
    currency = await session.scalar(select(Tenant.default_currency).where(Tenant.id == tenant_id))
    if currency is None:
        raise NotFound("no such tenant")
    return currency


@dataclass(frozen=True)
class SegmentFilters:
    """Validated filters (see the module doc); `to_json` is what the table stores."""

    industries: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    lifetime_value_min: Decimal | None = None
    lifetime_value_max: Decimal | None = None
    last_purchase_after: date | None = None
    last_purchase_before: date | None = None
    min_lead_score: int | None = None

    def to_json(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "industries": list(self.industries),
            "countries": list(self.countries),
            "lifetime_value_min": _text(self.lifetime_value_min),
            "lifetime_value_max": _text(self.lifetime_value_max),
            "last_purchase_after": _text(self.last_purchase_after),
            "last_purchase_before": _text(self.last_purchase_before),
            "min_lead_score": self.min_lead_score,
        }
        return {key: value for key, value in values.items() if value not in (None, [])}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SegmentFilters:
        def day(key: str) -> date | None:
            return date.fromisoformat(data[key]) if data.get(key) else None

        def money(key: str) -> Decimal | None:
            return Decimal(data[key]) if data.get(key) is not None else None

        return cls(
            industries=tuple(data.get("industries") or ()),
            countries=tuple(data.get("countries") or ()),
            lifetime_value_min=money("lifetime_value_min"),
            lifetime_value_max=money("lifetime_value_max"),
            last_purchase_after=day("last_purchase_after"),
            last_purchase_before=day("last_purchase_before"),
            min_lead_score=data.get("min_lead_score"),
        )

    @property
    def needs_account(self) -> bool:
        return bool(self.industries or self.countries or self.needs_won)

    @property
    def needs_won(self) -> bool:
        return any(
            value is not None
            for value in (
                self.lifetime_value_min,
                self.lifetime_value_max,
                self.last_purchase_after,
                self.last_purchase_before,
            )
        )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def validate_filters(
    currency: str,
    *,
    industries: Sequence[str] | None = None,
    countries: Sequence[str] | None = None,
    lifetime_value_min: tuple[Decimal | str, str] | None = None,
    lifetime_value_max: tuple[Decimal | str, str] | None = None,
    last_purchase_after: date | None = None,
    last_purchase_before: date | None = None,
    min_lead_score: int | None = None,
) -> SegmentFilters:
    """Raw filter input (money as `(amount, currency)`) to `SegmentFilters`, or INVALID
    naming the field: an unknown country, a blank or too long industry, more than
    `MAX_VALUES` values, money that is negative, malformed or not in the tenant's
    `currency`, `min > max`, a day outside the supported years or `after >= before`, a
    lead score outside 0..100."""
    clean_industries = _industries(industries or ())
    clean_countries = _countries(countries or ())
    low = _money(lifetime_value_min, currency, "filters.lifetimeValueMin")
    high = _money(lifetime_value_max, currency, "filters.lifetimeValueMax")
    if low is not None and high is not None and low > high:
        raise InvalidInput("the minimum exceeds the maximum", field="filters.lifetimeValueMin")
    after = _day(last_purchase_after, "filters.lastPurchaseAfter")
    before = _day(last_purchase_before, "filters.lastPurchaseBefore")
    if after is not None and before is not None and after >= before:
        raise InvalidInput(
            "must be before lastPurchaseBefore (an empty range)", field="filters.lastPurchaseAfter"
        )
    if min_lead_score is not None and not 0 <= min_lead_score <= 100:
        raise InvalidInput("a lead score is between 0 and 100", field="filters.minLeadScore")
    return SegmentFilters(
        industries=clean_industries,
        countries=clean_countries,
        lifetime_value_min=low,
        lifetime_value_max=high,
        last_purchase_after=after,
        last_purchase_before=before,
        min_lead_score=min_lead_score,
    )


def _industries(values: Sequence[str]) -> tuple[str, ...]:
    if len(values) > MAX_VALUES:
        raise InvalidInput(f"at most {MAX_VALUES} industries", field="filters.industries")
    clean = [
        required_text(value, field="filters.industries", max_length=MAX_INDUSTRY)
        for value in values
    ]
    return tuple(dict.fromkeys(clean))


def _countries(values: Sequence[str]) -> tuple[str, ...]:
    if len(values) > MAX_VALUES:
        raise InvalidInput(f"at most {MAX_VALUES} countries", field="filters.countries")
    clean: list[str] = []
    for value in values:
        code = country_code(value, field="filters.countries")
        if code is None:
            raise InvalidInput("must not be blank", field="filters.countries")
        clean.append(code)
    return tuple(dict.fromkeys(clean))


def _money(value: tuple[Decimal | str, str] | None, currency: str, field: str) -> Decimal | None:
    if value is None:
        return None
    money = Money.parse(value[0], value[1], field=field)
    if money.currency != currency:
        raise InvalidInput(
            f"lifetime value is in the tenant's currency {currency}", field=f"{field}.currency"
        )
    return money.amount


def _day(value: date | None, field: str) -> date | None:
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidInput(f"the year must be between {MIN_YEAR} and {MAX_YEAR}", field=field)
    return value


# Compiling -----------------------------------------------------------------------------


def won_by_account(tenant_id: uuid.UUID, currency: str) -> Subquery:
    """Per account with a won deal: `value` (realised lifetime value, the definition of
    `prm.metrics.lifetime_value`, as one GROUP BY) and `last_won_at`."""
    return (
        select(
            Opportunity.account_id.label("account_id"),
            func.coalesce(
                func.sum(Opportunity.amount).filter(Opportunity.currency == currency), 0
            ).label("value"),
            func.max(Opportunity.closed_at).label("last_won_at"),
        )
        .where(
            Opportunity.tenant_id == tenant_id,
            Opportunity.stage == OpportunityStage.CLOSED_WON,
        )
        .group_by(Opportunity.account_id)
        .subquery("won")
    )


def _lead_score_condition(tenant_id: uuid.UUID, score: int) -> ColumnElement[bool]:
    by_email = (
        select(Lead.id)
        .where(
            Lead.tenant_id == tenant_id,
            Lead.email == func.lower(Contact.email),
            Lead.score >= score,
        )
        .exists()
    )
    converted_at_account = (
        select(Lead.id)
        .join(
            Opportunity,
            and_(Opportunity.tenant_id == Lead.tenant_id, Opportunity.source_lead_id == Lead.id),
        )
        .where(
            Lead.tenant_id == tenant_id,
            Opportunity.account_id == Contact.account_id,
            Lead.score >= score,
        )
        .exists()
    )
    return or_(and_(Contact.email.is_not(None), by_email), converted_at_account)


def matching_contacts(
    tenant_id: uuid.UUID, filters: SegmentFilters, currency: str
) -> Select[Contact]:
    """The contacts a segment reaches (never opted-out ones), as one statement with no
    ORDER BY: callers page it, count it or INSERT … SELECT from it."""
    statement = select(Contact).where(
        Contact.tenant_id == tenant_id, Contact.marketing_opt_out.is_(False)
    )
    if filters.needs_account:
        statement = statement.join(
            Account, and_(Account.tenant_id == Contact.tenant_id, Account.id == Contact.account_id)
        )
        if filters.industries:
            statement = statement.where(Account.industry.in_(filters.industries))
        if filters.countries:
            statement = statement.where(Account.country.in_(filters.countries))
    if filters.needs_won:
        won = won_by_account(tenant_id, currency)
        statement = statement.outerjoin(won, won.c.account_id == Account.id)
        value = func.coalesce(won.c.value, 0)
        if filters.lifetime_value_min is not None:
            statement = statement.where(value >= filters.lifetime_value_min)
        if filters.lifetime_value_max is not None:
            statement = statement.where(value <= filters.lifetime_value_max)
        if filters.last_purchase_after is not None:
            statement = statement.where(won.c.last_won_at >= _midnight(filters.last_purchase_after))
        if filters.last_purchase_before is not None:
            statement = statement.where(won.c.last_won_at < _midnight(filters.last_purchase_before))
    if filters.min_lead_score is not None:
        statement = statement.where(_lead_score_condition(tenant_id, filters.min_lead_score))
    return statement


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


# Service -------------------------------------------------------------------------------


def readable_segments(principal: Principal) -> Select[Segment]:
    require_marketing_reader(principal)
    return select(Segment).where(Segment.tenant_id == principal.tenant_id)


async def get_segment(
    session: AsyncSession, principal: Principal, segment_id: uuid.UUID, *, field: str = "id"
) -> Segment:
    segment = await session.scalar(readable_segments(principal).where(Segment.id == segment_id))
    if segment is None:
        raise NotFound("no such segment", field=field)
    return segment


async def create_segment(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    description: str | None,
    filters: SegmentFilters,
) -> Segment:
    """Save a segment (filters already validated by `validate_filters`)."""
    require_marketer(principal)
    clean_name = required_text(name, field="name")
    await refuse_taken_name(session, Segment, principal.tenant_id, clean_name, what="a segment")
    segment = Segment(
        tenant_id=principal.tenant_id,
        name=clean_name,
        description=optional_text(description, field="description", max_length=MAX_DESCRIPTION),
        filters=filters.to_json(),
    )
    session.add(segment)
    await session.flush()
    return segment


async def update_segment(
    session: AsyncSession,
    principal: Principal,
    segment_id: uuid.UUID,
    *,
    name: str | None = None,
    description: str | None = None,
    filters: SegmentFilters | None = None,
) -> Segment:
    """Change the given fields; `filters`, when given, replace the old ones whole. Members
    already drawn stay (a segment is a filter, not a list)."""
    require_marketer(principal)
    segment = await get_segment(session, principal, segment_id)
    if name is not None:
        clean_name = required_text(name, field="name")
        await refuse_taken_name(
            session, Segment, principal.tenant_id, clean_name, what="a segment", exclude=segment.id
        )
        segment.name = clean_name
    if description is not None:
        segment.description = optional_text(
            description, field="description", max_length=MAX_DESCRIPTION
        )
    if filters is not None:
        segment.filters = filters.to_json()
    await session.flush()
    return segment


async def delete_segment(
    session: AsyncSession, principal: Principal, segment_id: uuid.UUID
) -> Segment:
    """Delete a segment; campaigns drawn from it keep their members (their `segment` is
    cleared by the foreign key)."""
    require_marketer(principal)
    segment = await get_segment(session, principal, segment_id)
    await session.delete(segment)
    await session.flush()
    return segment


async def segment_sizes(
    session: AsyncSession, principal: Principal, segments: Sequence[Segment]
) -> dict[uuid.UUID, int]:
    """How many contacts each segment reaches: one UNION ALL of counts for a whole page."""
    require_marketing_reader(principal)
    if not segments:
        return {}
    currency = await tenant_currency(session, principal.tenant_id)
    branches = [
        select(
            literal(segment.id, Uuid).label("segment_id"),
            select(func.count())
            .select_from(
                matching_contacts(
                    principal.tenant_id, SegmentFilters.from_json(segment.filters), currency
                ).subquery()
            )
            .scalar_subquery()
            .label("size"),
        )
        for segment in segments
    ]
    rows = await session.execute(union_all(*branches))
    return {segment_id: int(size) for segment_id, size in rows}


async def segment_previews(
    session: AsyncSession, principal: Principal, segments: Sequence[Segment], first: int
) -> dict[uuid.UUID, list[Contact]]:
    """The first `first` contacts (by id) each segment reaches: one UNION ALL for a page."""
    require_marketing_reader(principal)
    if not segments or first <= 0:
        return {segment.id: [] for segment in segments}
    currency = await tenant_currency(session, principal.tenant_id)
    branches = []
    for segment in segments:
        page = (
            matching_contacts(
                principal.tenant_id, SegmentFilters.from_json(segment.filters), currency
            )
            .with_only_columns(Contact.id)
            .order_by(Contact.id)
            .limit(min(first, MAX_PREVIEW))
            .subquery()
        )
        branches.append(select(literal(segment.id, Uuid).label("segment_id"), page.c.id))
    picked = (await session.execute(union_all(*branches))).all()
    contacts = {
        contact.id: contact
        for contact in await session.scalars(
            select(Contact).where(
                Contact.tenant_id == principal.tenant_id,
                Contact.id.in_({contact_id for _, contact_id in picked}),
            )
        )
    }
    result: dict[uuid.UUID, list[Contact]] = {segment.id: [] for segment in segments}
    for segment_id, contact_id in picked:
        result[segment_id].append(contacts[contact_id])
    for rows in result.values():
        rows.sort(key=lambda contact: contact.id)
    return result
