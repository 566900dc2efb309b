"""MDF budgets and allocations through GraphQL: creating budgets, allocating by hand and
from program levels, the budget never over-allocated (even concurrently), and every bad
input answered with a typed error and nothing written."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from prm.db.engine import Database
from prm.graphql.relay import pk_of
from prm.mdf.models import MdfAllocation, MdfBudget
from prm.partners.program_models import ProgramLevel
from tests.factories import make_partner, make_tenant
from tests.graphql.support import error_codes
from tests.mdf.support import (
    ALLOCATE,
    ALLOCATE_FROM_LEVELS,
    ALLOCATIONS,
    BUDGETS,
    CREATE_BUDGET,
    Api,
    counts,
    gid,
    make_cast,
    money,
    new_allocation,
    new_budget,
)
from tests.partners.program_factories import enrol, make_program

pytestmark = pytest.mark.asyncio


async def test_budget_and_manual_allocations_track_what_remains(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = Api(client, app, cast.tenant.admin)
    budget = await new_budget(admin, "10000.00")
    assert budget["period"] == "2026-Q4"
    assert budget["remaining"] == money("10000.00")

    first = await new_allocation(admin, budget["id"], cast.partner_a, "2500.50")
    assert first["source"] == "MANUAL"
    assert first["remaining"] == money("2500.50")
    assert first["partner"]["id"] == gid("Partner", cast.partner_a.id)
    await new_allocation(admin, budget["id"], cast.partner_b, "7000.00")

    listed = await admin(BUDGETS)
    node = listed["data"]["mdfBudgets"]["edges"][0]["node"]
    assert node["allocated"] == money("9500.50")
    assert node["remaining"] == money(str(Decimal("10000.00") - Decimal("9500.50")))

    # Over what remains (499.50): refused, nothing written.
    before = await counts(database, cast.tenant.id)
    third = await make_partner(database, cast.tenant.id)
    codes = await admin.codes(
        ALLOCATE,
        "allocateMdf",
        budgetId=budget["id"],
        partnerId=gid("Partner", third.id),
        amount=money("499.51"),
    )
    assert codes == ["LIMIT_EXCEEDED"]
    assert await counts(database, cast.tenant.id) == before
    # Exactly what remains fits.
    await new_allocation(admin, budget["id"], third, "499.50")


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"amount": money("10", "EUR")}, "INVALID", "amount.currency"),
        ({"amount": money("0")}, "INVALID", "amount.amount"),
        ({"amount": money("-5")}, "INVALID", "amount.amount"),
        ({"amount": money("1.001")}, "INVALID", "amount.amount"),
        ({"partnerId": "foreign"}, "NOT_FOUND", "partnerId"),
        ({"budgetId": "foreign"}, "NOT_FOUND", "budgetId"),
        ({"partnerId": "garbage"}, "NOT_FOUND", "partnerId"),
    ],
)
async def test_bad_allocations_write_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    variables: dict[str, object],
    code: str,
    field: str,
) -> None:
    cast = await make_cast(database)
    other = await make_tenant(database)
    other_admin = Api(client, app, other.admin)
    other_budget = await new_budget(other_admin, "100")
    other_partner = await make_partner(database, other.id)
    admin = Api(client, app, cast.tenant.admin)
    budget = await new_budget(admin, "100")
    values: dict[str, object] = {
        "budgetId": budget["id"],
        "partnerId": gid("Partner", cast.partner_a.id),
        "amount": money("10"),
        **variables,
    }
    if values["partnerId"] == "foreign":
        values["partnerId"] = gid("Partner", other_partner.id)
    if values["budgetId"] == "foreign":
        values["budgetId"] = other_budget["id"]
    before = await counts(database, cast.tenant.id)
    body = await admin(ALLOCATE, **values)
    errors = body["data"]["allocateMdf"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [(code, field)]
    assert await counts(database, cast.tenant.id) == before


async def test_a_second_allocation_to_the_same_partner_is_a_duplicate(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = Api(client, app, cast.tenant.admin)
    budget = await new_budget(admin, "1000")
    await new_allocation(admin, budget["id"], cast.partner_a, "100")
    codes = await admin.codes(
        ALLOCATE,
        "allocateMdf",
        budgetId=budget["id"],
        partnerId=gid("Partner", cast.partner_a.id),
        amount=money("100"),
    )
    assert codes == ["DUPLICATE"]
    async with database.session(cast.tenant.id) as session:
        row = await session.get(MdfBudget, (cast.tenant.id, pk_of(budget["id"], "MdfBudget")))
        assert row is not None
        assert row.allocated == Decimal("100")


async def test_only_admins_create_and_allocate_and_only_staff_list_budgets(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    variables = {"input": {"name": "x", "period": "2026-Q4", "amount": money("1")}}
    for user in (cast.manager, cast.rep_a):
        body = await Api(client, app, user)(CREATE_BUDGET, **variables)
        assert error_codes(body) == ["FORBIDDEN"]
    admin = Api(client, app, cast.tenant.admin)
    await new_budget(admin, "100")
    manager = await Api(client, app, cast.manager)(BUDGETS)
    assert manager["data"]["mdfBudgets"]["totalCount"] == 1
    partner = await Api(client, app, cast.rep_a)(BUDGETS)
    assert error_codes(partner) == ["FORBIDDEN"]


async def test_bad_budgets_are_refused(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = Api(client, app, cast.tenant.admin)
    cases = [
        ({"name": "x", "period": "2026-Q5", "amount": money("1")}, "period"),
        ({"name": " ", "period": "2026-Q4", "amount": money("1")}, "name"),
        ({"name": "x", "period": "2026-Q4", "amount": money("-1")}, "amount.amount"),
        ({"name": "x", "period": "2026-Q4", "amount": money("1", "XXY")}, "amount.currency"),
    ]
    for values, field in cases:
        body = await admin(CREATE_BUDGET, input=values)
        errors = body["data"]["createMdfBudget"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID", field)]
    assert (await counts(database, cast.tenant.id))["mdf_budgets"] == 0


async def _level(
    database: Database,
    tenant_id: object,
    program_id: object,
    rank: int,
    *,
    eligible: bool,
    allocation: str | None,
) -> ProgramLevel:
    async with database.session(tenant_id) as session:  # type: ignore[arg-type]
        level = ProgramLevel(
            tenant_id=tenant_id,
            program_id=program_id,
            name=f"level-{rank}",
            rank=rank,
            mdf_eligible=eligible,
            mdf_allocation=Decimal(allocation) if allocation is not None else None,
        )
        session.add(level)
    return level


async def test_allocating_from_levels_gives_each_eligible_partner_its_level_amount(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    tenant = cast.tenant.id
    program = await make_program(database, tenant)
    second_program = await make_program(database, tenant)
    gold = await _level(database, tenant, program.id, 3, eligible=True, allocation="1500.0000")
    silver = await _level(database, tenant, program.id, 2, eligible=True, allocation="500.0000")
    bronze = await _level(database, tenant, program.id, 1, eligible=False, allocation="900")
    other_gold = await _level(
        database, tenant, second_program.id, 1, eligible=True, allocation="2000"
    )
    partners = [await make_partner(database, tenant) for _ in range(4)]
    gold_partner, silver_partner, bronze_partner, both = partners
    await enrol(
        database, tenant, program_id=program.id, partner_id=gold_partner.id, level_id=gold.id
    )
    await enrol(
        database, tenant, program_id=program.id, partner_id=silver_partner.id, level_id=silver.id
    )
    await enrol(
        database, tenant, program_id=program.id, partner_id=bronze_partner.id, level_id=bronze.id
    )
    # In two programs: the larger benefit (2000), once.
    await enrol(database, tenant, program_id=program.id, partner_id=both.id, level_id=silver.id)
    await enrol(
        database, tenant, program_id=second_program.id, partner_id=both.id, level_id=other_gold.id
    )

    admin = Api(client, app, cast.tenant.admin)
    budget = await new_budget(admin, "10000")
    # The silver partner already has a manual allocation: skipped.
    await new_allocation(admin, budget["id"], silver_partner, "100")
    payload = await admin.ok(ALLOCATE_FROM_LEVELS, "allocateMdfFromLevels", budgetId=budget["id"])
    got = {node["partner"]["id"]: node["amount"]["amount"] for node in payload["mdfAllocations"]}
    assert got == {
        gid("Partner", gold_partner.id): "1500.00",
        gid("Partner", both.id): "2000.00",
    }
    assert {node["source"] for node in payload["mdfAllocations"]} == {"LEVEL"}
    listed = await admin(BUDGETS)
    expected = Decimal("100") + Decimal("1500") + Decimal("2000")
    node = listed["data"]["mdfBudgets"]["edges"][0]["node"]
    assert Decimal(node["allocated"]["amount"]) == expected

    # Running it again allocates nobody twice.
    again = await admin.ok(ALLOCATE_FROM_LEVELS, "allocateMdfFromLevels", budgetId=budget["id"])
    assert again["mdfAllocations"] == []


async def test_allocating_from_levels_is_all_or_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    tenant = cast.tenant.id
    program = await make_program(database, tenant)
    level = await _level(database, tenant, program.id, 1, eligible=True, allocation="400")
    for _ in range(3):
        partner = await make_partner(database, tenant)
        await enrol(
            database, tenant, program_id=program.id, partner_id=partner.id, level_id=level.id
        )
    admin = Api(client, app, cast.tenant.admin)
    budget = await new_budget(admin, "1199")  # 3 x 400 = 1200 does not fit
    before = await counts(database, tenant)
    codes = await admin.codes(ALLOCATE_FROM_LEVELS, "allocateMdfFromLevels", budgetId=budget["id"])
    assert codes == ["LIMIT_EXCEEDED"]
    assert await counts(database, tenant) == before


async def test_concurrent_allocations_never_exceed_the_budget(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    tenant = cast.tenant.id
    admin = Api(client, app, cast.tenant.admin)
    budget = await new_budget(admin, "1000")
    partners = [await make_partner(database, tenant) for _ in range(12)]
    bodies = await asyncio.gather(
        *(
            admin(
                ALLOCATE,
                budgetId=budget["id"],
                partnerId=gid("Partner", partner.id),
                amount=money("150"),
            )
            for partner in partners
        )
    )
    results = [body["data"]["allocateMdf"] for body in bodies]
    won = [r for r in results if not r["errors"]]
    lost = [r for r in results if r["errors"]]
    assert len(won) == 1000 // 150
    assert {r["errors"][0]["code"] for r in lost} == {"LIMIT_EXCEEDED"}
    async with database.session(tenant) as session:
        amounts = (await session.scalars(select(MdfAllocation.amount))).all()
        row = await session.get(MdfBudget, (tenant, pk_of(budget["id"], "MdfBudget")))
    assert row is not None
    assert sum(amounts, Decimal(0)) == row.allocated == Decimal(150 * (1000 // 150))


async def test_partner_users_see_only_their_allocations_without_the_budget(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = Api(client, app, cast.tenant.admin)
    budget = await new_budget(admin, "1000")
    mine = await new_allocation(admin, budget["id"], cast.partner_a, "100")
    await new_allocation(admin, budget["id"], cast.partner_b, "200")
    body = await Api(client, app, cast.rep_a)(ALLOCATIONS)
    nodes = [edge["node"] for edge in body["data"]["mdfAllocations"]["edges"]]
    assert [node["id"] for node in nodes] == [mine["id"]]
    assert nodes[0]["budget"] is None
    assert nodes[0]["budgetName"] == "Q4 marketing"
    assert nodes[0]["period"] == "2026-Q4"
    staff = await Api(client, app, cast.manager)(
        ALLOCATIONS, filter={"partnerId": gid("Partner", cast.partner_b.id)}
    )
    assert staff["data"]["mdfAllocations"]["totalCount"] == 1
    employee = await Api(client, app, cast.employee)(ALLOCATIONS)
    assert employee["data"]["mdfAllocations"]["totalCount"] == 0
