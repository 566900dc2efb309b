"""Incentive statements: a partner's lines of a period with totals per status and
currency; a rebate of a quarter is on the quarter's and year's statements, not a month's;
void lines are left out; a partner user reads only its own partner's statement."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.incentives.evaluate import REBATES
from prm.metrics.periods import period_containing
from prm.workers.actors import run_job
from prm.workers.jobs import enqueue_job_sync
from prm.workers.models import JobStatus
from tests.graphql.support import error_codes, gql
from tests.incentives.factories import (
    APPROVE,
    STATEMENT,
    earned_rows,
    gid,
    make_world,
    money,
    open_deal,
    rule_ok,
    set_stage,
    win,
)


@pytest.mark.asyncio
async def test_statement_lines_and_totals_per_status_and_currency(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    await rule_ok(
        client, app, world, name="Bonus", kind="DEAL_BONUS",
        amount={"amount": "100.50", "currency": "USD"},
    )  # fmt: skip
    await rule_ok(client, app, world, name="4%", kind="REVENUE_PERCENT", percent="4")
    await rule_ok(
        client, app, world, name="Rebate", kind="VOLUME_REBATE", currency="USD",
        periodKind="QUARTER", tiers=[{"threshold": "100", "percent": "1"}],
    )  # fmt: skip
    usd = open_deal(database, world, world.partner_id, "250.00")
    eur = open_deal(database, world, world.partner_id, "80.10", currency="EUR")
    reopened = open_deal(database, world, world.partner_id, "999.00")
    theirs = open_deal(database, world, world.other_partner_id, "500.00")
    for deal in (usd, eur, reopened, theirs):
        await win(client, app, database, world, deal)
    await set_stage(client, app, world, reopened, "NEGOTIATION")  # its lines become VOID
    now = datetime.now(UTC)
    quarter = period_containing(now, "QUARTER").key
    with database.sync_session(world.tenant.id) as session:
        job = enqueue_job_sync(
            session, Principal.system(world.tenant.id), REBATES, {"period": quarter}
        )
    assert run_job(database, REBATES, world.tenant.id, job.id) is JobStatus.SUCCEEDED
    [usd_bonus] = [
        r for r in earned_rows(database, world.tenant.id)
        if r.opportunity_id == usd and r.basis == 1
    ]  # fmt: skip
    admin = world.admin_headers(app)
    body = await gql(client, APPROVE, {"id": gid("EarnedIncentive", usd_bonus.id)}, headers=admin)
    assert body["data"]["approveIncentive"]["errors"] == []

    async def statement(period: str, headers: dict[str, str]) -> dict[str, Any]:
        body = await gql(
            client, STATEMENT,
            {"partnerId": gid("Partner", world.partner_id), "period": period}, headers=headers,
        )  # fmt: skip
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]["incentiveStatement"]
        return result

    def totals(result: dict[str, Any]) -> set[tuple[str, int, str, str]]:
        return {(t["status"], t["count"], t["amount"]["amount"], t["amount"]["currency"])
                for t in result["totals"]}  # fmt: skip

    bonus = Decimal("100.50")
    usd_percent = money(Decimal("250.00") * 4 / 100)
    eur_percent = money(Decimal("80.10") * 4 / 100)
    rebate = money(Decimal("250.00") * 1 / 100)  # the partner's won USD (EUR not counted)
    month = period_containing(now, "MONTH").key
    monthly = await statement(month, world.partner_headers(app))
    assert len(monthly["lines"]) == 4  # two per won deal, none for the reopened one
    assert totals(monthly) == {
        ("APPROVED", 1, str(bonus), "USD"),  # the USD deal's bonus
        ("PENDING", 2, str(money(bonus + usd_percent)), "USD"),  # EUR deal's bonus, USD 4%
        ("PENDING", 1, str(eur_percent), "EUR"),
    }
    quarterly = await statement(quarter, admin)
    assert len(quarterly["lines"]) == 5  # the quarter's rebate too
    assert ("PENDING", 3, str(money(bonus + usd_percent + rebate)), "USD") in totals(quarterly)
    yearly = await statement(str(now.year), admin)
    assert totals(yearly) == totals(quarterly)


@pytest.mark.asyncio
async def test_a_statement_of_another_partner_or_tenant_is_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    world = await make_world(database)
    other = await make_world(database)
    period = period_containing(datetime.now(UTC), "MONTH").key
    cases = [
        (world.other_partner_id, world.partner_headers(app)),
        (world.partner_id, other.admin_headers(app)),
        (world.partner_id, other.partner_headers(app)),
    ]
    for partner_id, headers in cases:
        body = await gql(
            client, STATEMENT, {"partnerId": gid("Partner", partner_id), "period": period},
            headers=headers,
        )  # fmt: skip
        assert error_codes(body) == ["NOT_FOUND"], body
    body = await gql(
        client, STATEMENT, {"partnerId": gid("Partner", world.partner_id), "period": "2026-Q5"},
        headers=world.partner_headers(app),
    )  # fmt: skip
    assert error_codes(body) == ["INVALID"], body
    own = await gql(
        client, STATEMENT, {"partnerId": gid("Partner", world.partner_id), "period": period},
        headers=world.partner_headers(app),
    )  # fmt: skip
    assert own["data"]["incentiveStatement"] == {"period": period, "lines": [], "totals": []}
