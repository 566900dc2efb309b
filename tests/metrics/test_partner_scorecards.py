"""Partner scorecards: every figure counted from the offers, leads, events and
opportunities whose event falls in the period; the composite score and rank; recomputing
gives the same rows; the current quarter's score steers PERFORMANCE routing; reading
through GraphQL with ordering, pages and per-partner visibility."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prm.auth.principal import Role
from prm.crm.models import Opportunity, OpportunityStage
from prm.db.engine import Database
from prm.leads.models import (
    DistributionStrategy,
    Lead,
    LeadEvent,
    LeadOffer,
    LeadStatus,
    OfferStatus,
)
from prm.metrics.models import PartnerScorecardRow
from prm.metrics.partner_scorecards import compute_partner_scorecards
from prm.metrics.periods import parse_period, period_containing
from prm.partners.models import Partner
from prm.tenants.models import User
from tests.crm.factories import gid, make_account
from tests.factories import TenantWithAdmin, bearer, make_tenant, make_user, unique
from tests.graphql.support import error_codes, gql
from tests.leads.factories import make_lead, make_rule, make_territory_partner

OCTOBER = parse_period("2026-10")
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def at(day: int, hour: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


class Builder:
    """Rows written straight into one tenant, each with the times a test chooses."""

    def __init__(self, database: Database, tenant_id: uuid.UUID, account_id: uuid.UUID) -> None:
        self.database = database
        self.tenant_id = tenant_id
        self.account_id = account_id

    def lead(
        self, partner_id: uuid.UUID | None = None, *, accepted_at: datetime | None = None
    ) -> uuid.UUID:
        name = unique("Lead Co")
        with self.database.sync_session(self.tenant_id) as session:
            lead = Lead(
                tenant_id=self.tenant_id,
                status=LeadStatus.ACCEPTED if partner_id else LeadStatus.OFFERED,
                company_name=name,
                normalized_company=name.lower(),
                product_interest=[],
                partner_id=partner_id,
                accepted_at=accepted_at,
            )
            session.add(lead)
        return lead.id

    def offer(
        self,
        partner_id: uuid.UUID,
        status: OfferStatus,
        *,
        offered: datetime,
        expires: datetime,
        responded: datetime | None = None,
    ) -> uuid.UUID:
        """An offer of a fresh lead; an accepted one leaves the lead held and accepted."""
        accepted = status is OfferStatus.ACCEPTED
        lead_id = self.lead(
            partner_id if accepted else None, accepted_at=responded if accepted else None
        )
        with self.database.sync_session(self.tenant_id) as session:
            session.add(
                LeadOffer(
                    tenant_id=self.tenant_id,
                    lead_id=lead_id,
                    partner_id=partner_id,
                    status=status,
                    offered_at=offered,
                    expires_at=expires,
                    responded_at=responded,
                )
            )
        return lead_id

    def converted(self, lead_id: uuid.UUID, when: datetime) -> None:
        """The lead's CONVERTED event, naming its holder as `convertLead` does."""
        with self.database.sync_session(self.tenant_id) as session:
            holder = session.scalar(select(Lead.partner_id).where(Lead.id == lead_id))
            session.add(
                LeadEvent(
                    tenant_id=self.tenant_id,
                    lead_id=lead_id,
                    at=when,
                    kind="CONVERTED",
                    from_status=LeadStatus.QUALIFIED,
                    to_status=LeadStatus.CONVERTED,
                    partner_id=holder,
                )
            )

    def deal(
        self,
        partner_id: uuid.UUID,
        stage: OpportunityStage,
        amount: str,
        *,
        closed: datetime | None = None,
        currency: str = "USD",
    ) -> None:
        with self.database.sync_session(self.tenant_id) as session:
            session.add(
                Opportunity(
                    tenant_id=self.tenant_id,
                    account_id=self.account_id,
                    name=unique("Deal"),
                    amount=Decimal(amount),
                    currency=currency,
                    stage=stage,
                    probability=100 if stage is OpportunityStage.CLOSED_WON else 10,
                    closed_at=closed,
                    partner_id=partner_id,
                )
            )


async def builder(database: Database, tenant: TenantWithAdmin) -> Builder:
    account = await make_account(database, tenant.id)
    return Builder(database, tenant.id, account.id)


def compute(database: Database, tenant_id: uuid.UUID, period: str, now: datetime = NOW) -> int:
    with database.sync_session(tenant_id) as session:
        return compute_partner_scorecards(session, tenant_id, parse_period(period), now=now)


def stored(database: Database, tenant_id: uuid.UUID, period: str) -> dict[uuid.UUID, Any]:
    with database.sync_session(tenant_id) as session:
        rows = session.scalars(
            select(PartnerScorecardRow).where(PartnerScorecardRow.period == period)
        )
        return {row.partner_id: row for row in rows}


@dataclass
class October:
    tenant: TenantWithAdmin
    a: Partner
    b: Partner
    quiet: Partner


async def make_october(database: Database) -> October:
    """Partner A: a busy October; B: one slow accept and one big win; quiet: nothing."""
    tenant = await make_tenant(database)
    a = await make_territory_partner(database, tenant.id)
    b = await make_territory_partner(database, tenant.id)
    quiet = await make_territory_partner(database, tenant.id)
    build = await builder(database, tenant)
    # A's offers: accepted after 6 h and 18 h (on time), rejected on time, expired, an
    # accept late after a September offer (6 h), a pending one, and one in November.
    first = build.offer(
        a.id, OfferStatus.ACCEPTED, offered=at(2), responded=at(2, 6), expires=at(3)
    )
    build.offer(a.id, OfferStatus.ACCEPTED, offered=at(5), responded=at(5, 18), expires=at(6))
    build.offer(a.id, OfferStatus.REJECTED, offered=at(10), responded=at(10, 1), expires=at(11))
    build.offer(a.id, OfferStatus.EXPIRED, offered=at(20), expires=at(21))
    build.offer(
        a.id,
        OfferStatus.ACCEPTED,
        offered=at(30, 20, month=9),
        responded=at(1, 2),
        expires=at(1, 1),
    )
    build.offer(a.id, OfferStatus.PENDING, offered=at(31, 23), expires=at(1, 23, month=11))
    build.offer(a.id, OfferStatus.ACCEPTED, offered=at(2, month=11), responded=at(2, 1, month=11),
                expires=at(3, month=11))  # fmt: skip
    claimed = build.lead(a.id, accepted_at=at(15))  # a pool claim: no offer
    build.lead(a.id, accepted_at=at(15, month=9))  # a claim in September
    build.converted(first, at(25))
    build.converted(claimed, at(28))
    build.converted(build.lead(a.id, accepted_at=at(1, month=8)), at(3, month=11))
    build.deal(a.id, OpportunityStage.CLOSED_WON, "1000.00", closed=at(5))
    build.deal(a.id, OpportunityStage.CLOSED_WON, "500.00", closed=at(25))
    build.deal(a.id, OpportunityStage.CLOSED_WON, "999.00", closed=at(10), currency="EUR")
    build.deal(a.id, OpportunityStage.CLOSED_LOST, "700.00", closed=at(12))
    build.deal(a.id, OpportunityStage.CLOSED_WON, "800.00", closed=at(3, month=11))
    build.deal(a.id, OpportunityStage.PROSPECTING, "200.00")
    build.deal(a.id, OpportunityStage.NEGOTIATION, "300.00")
    build.deal(a.id, OpportunityStage.NEGOTIATION, "50.00", currency="EUR")
    # B: one offer accepted after 48 h, one big win.
    build.offer(b.id, OfferStatus.ACCEPTED, offered=at(1), responded=at(3), expires=at(4))
    build.deal(b.id, OpportunityStage.CLOSED_WON, "3000.00", closed=at(8))
    return October(tenant, a, b, quiet)


def composite(
    acceptance: float | None,
    median_hours: float | None,
    conversion: float | None,
    win_rate: float | None,
    revenue_share: float,
    sla: float | None,
) -> float:
    speed = None if median_hours is None else 1 / (1 + median_hours / 24)
    parts = [
        (0.20, acceptance),
        (0.15, speed),
        (0.20, conversion),
        (0.20, win_rate),
        (0.15, revenue_share),
        (0.10, sla),
    ]
    return 100 * sum(weight * (value or 0) for weight, value in parts)


@pytest.mark.asyncio
async def test_every_figure_counts_the_events_that_fall_in_the_period(database: Database) -> None:
    october = await make_october(database)
    assert compute(database, october.tenant.id, "2026-10") == 3
    rows = stored(database, october.tenant.id, "2026-10")

    a = rows[october.a.id]
    # Offered in October: 4 of A's October offers plus the pending one (not the September
    # nor the November offer).
    assert a.leads_offered == 5
    # Accepted: 3 offers answered in October (one offered in September) + 1 pool claim.
    assert (a.leads_accepted, a.leads_rejected, a.leads_expired) == (4, 1, 1)
    assert a.acceptance_rate == pytest.approx(3 / 5)
    assert a.median_hours_to_accept == pytest.approx(6.0)  # of 6, 18 and 6 hours
    assert a.leads_converted == 2  # the November conversion is not October's
    assert a.conversion_rate == pytest.approx(2 / 4)
    assert (a.deals_won, a.deals_lost) == (3, 1)  # the EUR win counts; the November one not
    assert a.win_rate == pytest.approx(3 / 4)
    assert a.currency == "USD"
    assert a.revenue_won == Decimal("1500.00")  # USD only: no FX conversion
    assert a.average_deal_size == Decimal("750.00")  # over the 2 wins the revenue counts
    assert a.pipeline_value == Decimal("500.00")  # open USD deals, whatever their period
    assert a.sla_compliance == pytest.approx(3 / 5)  # the late accept misses its deadline
    assert a.computed_at == NOW

    b = rows[october.b.id]
    assert (b.leads_offered, b.leads_accepted, b.leads_rejected, b.leads_expired) == (1, 1, 0, 0)
    assert b.acceptance_rate == pytest.approx(1.0)
    assert b.median_hours_to_accept == pytest.approx(48.0)
    assert (b.leads_converted, b.conversion_rate) == (0, 0.0)
    assert (b.deals_won, b.deals_lost, b.win_rate) == (1, 0, 1.0)
    assert (b.revenue_won, b.average_deal_size) == (Decimal("3000.00"), Decimal("3000.00"))
    assert (b.pipeline_value, b.sla_compliance) == (Decimal("0"), 1.0)

    quiet = rows[october.quiet.id]
    assert (quiet.leads_offered, quiet.leads_accepted, quiet.deals_won) == (0, 0, 0)
    nulls = (
        quiet.acceptance_rate,
        quiet.median_hours_to_accept,
        quiet.conversion_rate,
        quiet.win_rate,
        quiet.average_deal_size,
        quiet.sla_compliance,
    )
    assert nulls == (None,) * 6
    assert (quiet.revenue_won, quiet.pipeline_value, quiet.score) == (0, 0, 0.0)

    # Revenue counts relative to the best partner of the period (B, 3000).
    assert a.score == pytest.approx(composite(3 / 5, 6, 2 / 4, 3 / 4, 1500 / 3000, 3 / 5))
    assert a.score == pytest.approx(62.5)
    assert b.score == pytest.approx(composite(1.0, 48, 0.0, 1.0, 1.0, 1.0))
    assert b.score == pytest.approx(70.0)
    assert [b.rank, a.rank, quiet.rank] == [1, 2, 3]


@pytest.mark.asyncio
async def test_recomputing_gives_the_same_rows_and_only_replaces_its_own_period(
    database: Database,
) -> None:
    october = await make_october(database)
    compute(database, october.tenant.id, "2026-11")
    november = stored(database, october.tenant.id, "2026-11")
    compute(database, october.tenant.id, "2026-10")
    first = stored(database, october.tenant.id, "2026-10")
    compute(database, october.tenant.id, "2026-10", now=NOW + timedelta(minutes=5))
    second = stored(database, october.tenant.id, "2026-10")

    def figures(row: PartnerScorecardRow) -> dict[str, Any]:
        return {
            column.key: getattr(row, column.key)
            for column in PartnerScorecardRow.__table__.columns
            if column.key != "computed_at"
        }

    assert second.keys() == first.keys()
    assert {pk: figures(row) for pk, row in second.items()} == {
        pk: figures(row) for pk, row in first.items()
    }
    assert {row.computed_at for row in second.values()} == {NOW + timedelta(minutes=5)}
    after = stored(database, october.tenant.id, "2026-11")
    assert {pk: figures(row) for pk, row in after.items()} == {
        pk: figures(row) for pk, row in november.items()
    }
    # November: A's November offer was accepted, its November win counted.
    assert november[october.a.id].deals_won == 1
    assert november[october.a.id].revenue_won == Decimal("800.00")


@pytest.mark.asyncio
async def test_the_current_quarters_score_steers_performance_routing(database: Database) -> None:
    tenant = await make_tenant(database)
    strong = await make_territory_partner(database, tenant.id, performance_score=None)
    weak = await make_territory_partner(database, tenant.id, performance_score=90.0)
    build = await builder(database, tenant)
    now = datetime.now(UTC)
    quarter = period_containing(now, "QUARTER")
    moment = quarter.start + (now - quarter.start) / 2
    build.deal(strong.id, OpportunityStage.CLOSED_WON, "100.00", closed=moment)
    build.deal(weak.id, OpportunityStage.CLOSED_LOST, "100.00", closed=moment)

    # Another period leaves the routing score alone.
    compute(database, tenant.id, quarter.previous().key, now=now)
    with database.sync_session(tenant.id) as session:
        assert session.get(Partner, (tenant.id, weak.id)).performance_score == 90.0  # type: ignore[union-attr]

    compute(database, tenant.id, quarter.key, now=now)
    rows = stored(database, tenant.id, quarter.key)
    # Strong: win rate 1 and the best revenue; weak: lost its only deal.
    assert rows[strong.id].score == pytest.approx(composite(None, None, None, 1.0, 1.0, None))
    assert rows[weak.id].score == 0.0
    with database.sync_session(tenant.id) as session:
        scores = {
            partner.id: partner.performance_score
            for partner in session.scalars(select(Partner).where(Partner.tenant_id == tenant.id))
        }
    # The previous quarter (computed above, no deals: 0) weighs by the share still to come.
    elapsed = (now - quarter.start) / (quarter.end - quarter.start)
    assert scores == {strong.id: pytest.approx(35.0 * elapsed), weak.id: 0.0}

    await make_rule(database, tenant.id, strategy=DistributionStrategy.PERFORMANCE)
    for _ in range(3):
        await make_lead(database, tenant.id)
    async with database.session(tenant.id) as session:
        offered = Counter(
            await session.scalars(
                select(LeadOffer.partner_id).where(LeadOffer.status == OfferStatus.PENDING)
            )
        )
    assert offered == Counter({strong.id: 3})


@pytest.mark.asyncio
async def test_early_in_a_quarter_the_routing_score_leans_on_the_previous_quarter(
    database: Database,
) -> None:
    tenant = await make_tenant(database)
    veteran = await make_territory_partner(database, tenant.id)
    newcomer = await make_territory_partner(database, tenant.id)
    build = await builder(database, tenant)
    quarter = period_containing(datetime.now(UTC), "QUARTER").previous()
    previous = quarter.previous()
    build.deal(veteran.id, OpportunityStage.CLOSED_WON, "100.00", closed=previous.start)
    build.deal(newcomer.id, OpportunityStage.CLOSED_WON, "100.00", closed=quarter.start)
    full = composite(None, None, None, 1.0, 1.0, None)  # a win, and the best revenue

    def routing_scores(now: datetime) -> dict[uuid.UUID, float | None]:
        compute(database, tenant.id, previous.key, now=now)
        compute(database, tenant.id, quarter.key, now=now)
        with database.sync_session(tenant.id) as session:
            rows = session.scalars(select(Partner).where(Partner.tenant_id == tenant.id))
            return {partner.id: partner.performance_score for partner in rows}

    # A tenth into the quarter: the veteran keeps 90 % of its previous score, and the
    # newcomer's first deal counts a tenth.
    tenth = quarter.start + (quarter.end - quarter.start) / 10
    assert routing_scores(tenth) == {
        veteran.id: pytest.approx(0.9 * full),
        newcomer.id: pytest.approx(0.1 * full),
    }
    # At its last moment the current quarter counts alone.
    last = quarter.end - timedelta(microseconds=1)
    assert routing_scores(last) == {
        veteran.id: pytest.approx(0.0, abs=1e-6),
        newcomer.id: pytest.approx(full),
    }


FIELDS = """
    period leadsOffered leadsAccepted leadsRejected leadsExpired acceptanceRate
    medianHoursToAccept leadsConverted conversionRate dealsWon dealsLost winRate
    revenueWon { amount currency } averageDealSize { amount currency }
    pipelineValue { amount currency } slaCompliance score rank computedAt
    partner { id name }
"""
LIST = f"""
query($period: String!, $first: Int, $after: String, $orderBy: ScorecardOrder) {{
  partnerScorecards(period: $period, first: $first, after: $after, orderBy: $orderBy) {{
    edges {{ cursor node {{ {FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
    totalCount
  }}
}}
"""
PARTNER = f"""
query($id: ID!, $period: String!) {{
  node(id: $id) {{ ... on Partner {{ id performanceScore scorecard(period: $period) {{ {FIELDS} }} }} }}
}}
"""


def auth(app: FastAPI, user: User) -> dict[str, str]:
    return bearer(app.state.issuer, user)


async def scorecards(
    client: httpx.AsyncClient, app: FastAPI, user: User, **variables: Any
) -> dict[str, Any]:
    body = await gql(client, LIST, {"period": "2026-10", **variables}, headers=auth(app, user))
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["partnerScorecards"]
    return connection


def partner_ids(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["partner"]["id"] for edge in connection["edges"]]


@pytest.mark.asyncio
async def test_managers_read_the_leaderboard_in_any_order_page_by_page(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    october = await make_october(database)
    compute(database, october.tenant.id, "2026-10")
    manager = await make_user(database, october.tenant.id, roles=(Role.MANAGER,))
    a, b, quiet = (gid("Partner", p) for p in (october.a, october.b, october.quiet))

    board = await scorecards(client, app, manager)
    assert partner_ids(board) == [b, a, quiet]  # by rank
    assert board["totalCount"] == 3
    node = board["edges"][1]["node"]
    assert node == {
        "period": "2026-10",
        "leadsOffered": 5,
        "leadsAccepted": 4,
        "leadsRejected": 1,
        "leadsExpired": 1,
        "acceptanceRate": pytest.approx(0.6),
        "medianHoursToAccept": pytest.approx(6.0),
        "leadsConverted": 2,
        "conversionRate": pytest.approx(0.5),
        "dealsWon": 3,
        "dealsLost": 1,
        "winRate": pytest.approx(0.75),
        "revenueWon": {"amount": "1500.00", "currency": "USD"},
        "averageDealSize": {"amount": "750.00", "currency": "USD"},
        "pipelineValue": {"amount": "500.00", "currency": "USD"},
        "slaCompliance": pytest.approx(0.6),
        "score": pytest.approx(62.5),
        "rank": 2,
        "computedAt": "2026-11-24T12:00:00+00:00",
        "partner": {"id": a, "name": october.a.name},
    }
    quiet_node = board["edges"][2]["node"]
    assert (quiet_node["averageDealSize"], quiet_node["acceptanceRate"]) == (None, None)

    by_revenue = await scorecards(client, app, manager, orderBy={"field": "REVENUE_WON"})
    assert partner_ids(by_revenue) == [b, a, quiet]
    # Nulls last either way: the quiet partner has no acceptance rate.
    ascending = {"field": "ACCEPTANCE_RATE", "direction": "ASC"}
    assert partner_ids(await scorecards(client, app, manager, orderBy=ascending)) == [a, b, quiet]
    descending = {"field": "ACCEPTANCE_RATE", "direction": "DESC"}
    assert partner_ids(await scorecards(client, app, manager, orderBy=descending)) == [b, a, quiet]
    by_speed = {"field": "MEDIAN_HOURS_TO_ACCEPT"}  # fastest first
    assert partner_ids(await scorecards(client, app, manager, orderBy=by_speed)) == [a, b, quiet]

    seen: list[str] = []
    after = None
    for _ in range(3):
        page = await scorecards(
            client, app, manager, first=1, after=after, orderBy={"field": "CONVERSION_RATE"}
        )
        seen += partner_ids(page)
        after = page["pageInfo"]["endCursor"]
    assert seen == [a, b, quiet]
    assert page["pageInfo"]["hasNextPage"] is False

    wrong = await gql(
        client,
        LIST,
        {"period": "2026-10", "after": after, "orderBy": {"field": "SCORE"}},
        headers=auth(app, manager),
    )
    assert error_codes(wrong) == ["BAD_USER_INPUT"]
    employees_only = await gql(
        client,
        LIST,
        {"period": "2026-10", "orderBy": {"field": "ACTIVITIES"}},
        headers=auth(app, manager),
    )
    assert error_codes(employees_only) == ["BAD_USER_INPUT"]


@pytest.mark.asyncio
async def test_a_partner_user_sees_only_its_own_scorecard(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    october = await make_october(database)
    compute(database, october.tenant.id, "2026-10")
    rep = await make_user(
        database, october.tenant.id, roles=(Role.PARTNER_REP,), partner_id=october.a.id
    )
    own = await scorecards(client, app, rep)
    assert partner_ids(own) == [gid("Partner", october.a)]
    assert own["totalCount"] == 1
    assert own["edges"][0]["node"]["rank"] == 2  # its rank among all partners

    body = await gql(
        client,
        PARTNER,
        {"id": gid("Partner", october.a), "period": "2026-10"},
        headers=auth(app, rep),
    )
    assert body["data"]["node"]["scorecard"]["leadsAccepted"] == 4
    other = await gql(
        client,
        PARTNER,
        {"id": gid("Partner", october.b), "period": "2026-10"},
        headers=auth(app, rep),
    )
    assert other["data"]["node"] is None


@pytest.mark.asyncio
async def test_a_period_never_computed_is_empty_and_a_bad_period_is_invalid(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    october = await make_october(database)
    admin = october.tenant.admin
    empty = await scorecards(client, app, admin, period="2026-09")
    assert (empty["edges"], empty["totalCount"]) == ([], 0)
    body = await gql(
        client,
        PARTNER,
        {"id": gid("Partner", october.a), "period": "2026-Q3"},
        headers=auth(app, admin),
    )
    assert body["data"]["node"]["scorecard"] is None

    for period in ("2026-13", "Q4-2026", ""):
        bad = await gql(client, LIST, {"period": period}, headers=auth(app, admin))
        assert error_codes(bad) == ["INVALID"]
        assert bad["errors"][0]["extensions"]["field"] == "period"
    bad = await gql(
        client,
        PARTNER,
        {"id": gid("Partner", october.a), "period": "soon"},
        headers=auth(app, admin),
    )
    assert error_codes(bad) == ["INVALID"]
