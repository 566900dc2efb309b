"""ERM through GraphQL: the reporting line, objectives, compensation plans, performance
reviews and training records; who may see and do what, and every bad input answered with
a typed error and nothing written.

The org every test starts from (`make_org`):

    boss (MANAGER user) ── mid (MANAGER user) ── rep (EMPLOYEE user)
    other (MANAGER user) ── other_report
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.employees.erm_models import (
    CompensationAssignment,
    CompensationPlan,
    Objective,
    PerformanceReview,
    TrainingRecord,
)
from prm.employees.hierarchy import reports_below
from prm.employees.models import Employee
from prm.employees.training import partner_has_current_certification
from prm.partners.models import Partner
from prm.tenants.models import User
from tests.crm.factories import gid
from tests.factories import TenantWithAdmin, make_employee, make_tenant, unique
from tests.graphql.support import error_codes
from tests.partners.support import Caller, audit_operations

ERRORS = "errors { code field message }"
SET_OBJECTIVE = f"""mutation ($input: SetObjectiveInput!) {{ setObjective(input: $input) {{
  objective {{ id period metric target setAt employee {{ name }} }} {ERRORS} }} }}"""
OBJECTIVES = """query ($period: String!) { objectives(period: $period) {
  totalCount edges { node { period metric target employee { name } } } } }"""
EMPLOYEE_ERM = """query ($id: ID!, $period: String, $plan: String!) { node(id: $id) {
  ... on Employee { objectives(period: $period) { period metric target }
                    compensationPlan(period: $plan) { name } } } }"""
REPORTS = """query ($id: ID!, $transitive: Boolean) { node(id: $id) { ... on Employee {
  reports(transitive: $transitive) { totalCount edges { node { name } } } } } }"""
CREATE_PLAN = f"""mutation ($input: CreateCompensationPlanInput!) {{
  createCompensationPlan(input: $input) {{ compensationPlan {{
    id name basePercent acceleratorPercent capAmount {{ amount currency }} currency active }}
    {ERRORS} }} }}"""
UPDATE_PLAN = f"""mutation ($id: ID!, $input: UpdateCompensationPlanInput!) {{
  updateCompensationPlan(id: $id, input: $input) {{ compensationPlan {{
    name basePercent acceleratorPercent capAmount {{ amount currency }} active }} {ERRORS} }} }}"""
ASSIGN_PLAN = f"""mutation ($input: AssignCompensationPlanInput!) {{
  assignCompensationPlan(input: $input) {{ compensationAssignment {{
    id period employee {{ name }} plan {{ name }} }} {ERRORS} }} }}"""
PLANS = "{ compensationPlans { totalCount edges { node { name } } } }"
SUBMIT_REVIEW = f"""mutation ($input: SubmitPerformanceReviewInput!) {{
  submitPerformanceReview(input: $input) {{ performanceReview {{
    id period rating strengths goals acknowledgedAt employee {{ name }} reviewer {{ name }} }}
    {ERRORS} }} }}"""
ACKNOWLEDGE = f"""mutation ($id: ID!) {{ acknowledgePerformanceReview(id: $id) {{
  performanceReview {{ id acknowledgedAt }} {ERRORS} }} }}"""
REVIEWS = """query ($filter: PerformanceReviewFilter) { performanceReviews(filter: $filter) {
  totalCount edges { node { period rating employee { name } } } } }"""
RECORD_TRAINING = f"""mutation ($input: RecordTrainingInput!) {{ recordTraining(input: $input) {{
  trainingRecord {{ id course certification current employee {{ name }} user {{ id }}
    partner {{ id }} }} {ERRORS} }} }}"""
TRAINING = """query ($filter: TrainingRecordFilter) { trainingRecords(filter: $filter) {
  totalCount edges { node { course certification current } } } }"""


@dataclass
class Org:
    tenant: TenantWithAdmin
    boss_user: User
    mid_user: User
    rep_user: User
    other_user: User
    boss: Employee
    mid: Employee
    rep: Employee
    other: Employee
    other_report: Employee
    partner: Partner
    partner_admin: User
    partner_rep: User
    stranger_partner_user: User


async def make_org(database: Database) -> Org:
    """The org above, in one transaction. Users share one password hash: nobody signs in
    with a password here (tokens are issued directly), and hashing is slow on purpose."""
    tenant = await make_tenant(database)
    t = tenant.id
    async with database.session(t) as session:

        def user(roles: tuple[Role, ...], partner: Partner | None = None) -> User:
            row = User(
                tenant_id=t,
                email=f"{unique('user')}@example.com",
                name="Test User",
                password_hash=tenant.admin.password_hash,
                roles=[role.value for role in roles],
                partner_id=partner.id if partner else None,
                active=True,
            )
            session.add(row)
            return row

        async def employee(name: str, **links: Any) -> Employee:
            row = Employee(tenant_id=t, name=name, active=True, **links)
            session.add(row)
            await session.flush()
            return row

        partner = Partner(tenant_id=t, name=unique("partner"), postal_prefixes=[], capabilities=[])
        stranger = Partner(tenant_id=t, name=unique("partner"), postal_prefixes=[], capabilities=[])
        session.add_all([partner, stranger])
        await session.flush()
        boss_user, mid_user = user((Role.MANAGER,)), user((Role.MANAGER,))
        rep_user, other_user = user((Role.EMPLOYEE,)), user((Role.MANAGER,))
        partner_admin = user((Role.PARTNER_ADMIN,), partner)
        partner_rep = user((Role.PARTNER_REP,), partner)
        stranger_user = user((Role.PARTNER_REP,), stranger)
        await session.flush()
        boss = await employee("Boss", user_id=boss_user.id)
        mid = await employee("Mid", manager_id=boss.id, user_id=mid_user.id)
        rep = await employee("Rep", manager_id=mid.id, user_id=rep_user.id)
        other = await employee("Other", user_id=other_user.id)
        other_report = await employee("OtherReport", manager_id=other.id)
    return Org(
        tenant=tenant,
        boss_user=boss_user,
        mid_user=mid_user,
        rep_user=rep_user,
        other_user=other_user,
        boss=boss,
        mid=mid,
        rep=rep,
        other=other,
        other_report=other_report,
        partner=partner,
        partner_admin=partner_admin,
        partner_rep=partner_rep,
        stranger_partner_user=stranger_user,
    )


def errors_of(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(error["code"], error["field"]) for error in payload["errors"]]


async def count(database: Database, tenant: TenantWithAdmin, model: type[Any]) -> int:
    async with database.session(tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def names(connection: dict[str, Any]) -> list[str]:
    return sorted(edge["node"]["name"] for edge in connection["edges"])


# --- the reporting line ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_reports_are_direct_or_transitive(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    org = await make_org(database)
    rep_user_caller = Caller(client, app, org.rep_user)
    direct = await rep_user_caller(REPORTS, id=gid("Employee", org.boss))
    assert direct["data"]["node"]["reports"]["totalCount"] == 1
    assert names(direct["data"]["node"]["reports"]) == ["Mid"]
    below = await rep_user_caller(REPORTS, id=gid("Employee", org.boss), transitive=True)
    assert names(below["data"]["node"]["reports"]) == ["Mid", "Rep"]
    leaf = await rep_user_caller(REPORTS, id=gid("Employee", org.rep), transitive=True)
    assert leaf["data"]["node"]["reports"]["totalCount"] == 0

    async with database.session(org.tenant.id) as session:
        ids = set(await session.scalars(reports_below(org.tenant.id, org.boss.id)))
    assert ids == {org.mid.id, org.rep.id}


# --- objectives --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_manager_sets_objectives_for_everyone_below_and_setting_again_replaces(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    org = await make_org(database)
    boss = Caller(client, app, org.boss_user)
    first = await boss(
        SET_OBJECTIVE,
        input={
            "employeeId": gid("Employee", org.rep),
            "period": "2026-q4",
            "metric": "REVENUE_WON",
            "target": "250000.50",
        },
    )
    payload = first["data"]["setObjective"]
    assert payload["errors"] == []
    objective = payload["objective"]
    assert objective | {"id": None, "setAt": None} == {
        "id": None,
        "setAt": None,
        "period": "2026-Q4",
        "metric": "REVENUE_WON",
        "target": "250000.5",
        "employee": {"name": "Rep"},
    }
    mid = Caller(client, app, org.mid_user)
    again = await mid(
        SET_OBJECTIVE,
        input={
            "employeeId": gid("Employee", org.rep),
            "period": "2026-Q4",
            "metric": "REVENUE_WON",
            "target": "300000",
        },
    )
    replaced = again["data"]["setObjective"]["objective"]
    assert replaced["id"] == objective["id"]
    assert replaced["target"] == "300000"
    assert replaced["setAt"] >= objective["setAt"]
    deals = await mid(
        SET_OBJECTIVE,
        input={
            "employeeId": gid("Employee", org.rep),
            "period": "2026-Q4",
            "metric": "DEALS_WON",
            "target": "12",
        },
    )
    assert deals["data"]["setObjective"]["objective"]["target"] == "12"
    assert await count(database, org.tenant, Objective) == 2
    assert await audit_operations(database, org.tenant) == ["setObjective"] * 3


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("caller", "fields", "code", "field"),
    [
        pytest.param("boss", {"period": "2026-13"}, "INVALID", "period", id="bad period"),
        pytest.param("boss", {"target": "-1"}, "INVALID", "target", id="negative"),
        pytest.param("boss", {"target": "10.005"}, "INVALID", "target", id="sub-cent USD"),
        pytest.param(
            "boss", {"metric": "DEALS_WON", "target": "2.5"}, "INVALID", "target", id="half deal"
        ),
        pytest.param("boss", {"employeeId": "FOREIGN"}, "NOT_FOUND", "employeeId", id="foreign"),
        pytest.param("boss", {"employeeId": "garbage"}, "NOT_FOUND", "employeeId", id="garbage"),
        pytest.param("boss", {"employeeId": "BOSS"}, "NOT_FOUND", "employeeId", id="itself"),
        pytest.param("other", {}, "NOT_FOUND", "employeeId", id="another manager's report"),
        pytest.param("mid", {"employeeId": "BOSS"}, "NOT_FOUND", "employeeId", id="upwards"),
    ],
)
async def test_a_bad_objective_is_refused_and_nothing_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    caller: str,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    org = await make_org(database)
    ids = {"BOSS": gid("Employee", org.boss)}
    if "FOREIGN" in fields.values():
        foreign = await make_employee(database, (await make_tenant(database)).id)
        ids["FOREIGN"] = gid("Employee", foreign)
    fields = {key: ids.get(value, value) for key, value in fields.items()}
    user = {"boss": org.boss_user, "mid": org.mid_user, "other": org.other_user}[caller]
    body = await Caller(client, app, user)(
        SET_OBJECTIVE,
        input={
            "employeeId": gid("Employee", org.rep),
            "period": "2026-11",
            "metric": "REVENUE_WON",
            "target": "1000",
        }
        | fields,
    )
    payload = body["data"]["setObjective"]
    assert payload["objective"] is None
    assert errors_of(payload) == [(code, field)]
    assert await count(database, org.tenant, Objective) == 0
    assert await audit_operations(database, org.tenant) == []


@pytest.mark.asyncio
async def test_objectives_are_read_by_the_employee_its_managers_and_admins_only(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    org = await make_org(database)
    admin = Caller(client, app, org.tenant.admin)
    for employee, target in ((org.mid, "500"), (org.rep, "100"), (org.other_report, "70")):
        body = await admin(
            SET_OBJECTIVE,
            input={
                "employeeId": gid("Employee", employee),
                "period": "2026-11",
                "metric": "ACTIVITIES",
                "target": target,
            },
        )
        assert body["data"]["setObjective"]["errors"] == []

    def listed(body: dict[str, Any]) -> list[tuple[str, str]]:
        edges = body["data"]["objectives"]["edges"]
        return sorted((edge["node"]["employee"]["name"], edge["node"]["target"]) for edge in edges)

    assert listed(await admin(OBJECTIVES, period="2026-11")) == [
        ("Mid", "500"),
        ("OtherReport", "70"),
        ("Rep", "100"),
    ]
    boss = Caller(client, app, org.boss_user)
    assert listed(await boss(OBJECTIVES, period="2026-11")) == [("Mid", "500"), ("Rep", "100")]
    mid = Caller(client, app, org.mid_user)
    assert listed(await mid(OBJECTIVES, period="2026-11")) == [("Mid", "500"), ("Rep", "100")]
    assert listed(await boss(OBJECTIVES, period="2026-12")) == []
    rep = Caller(client, app, org.rep_user)
    assert error_codes(await rep(OBJECTIVES, period="2026-11")) == ["FORBIDDEN"]
    assert error_codes(await boss(OBJECTIVES, period="nonsense")) == ["INVALID"]

    own = await rep(EMPLOYEE_ERM, id=gid("Employee", org.rep), period="2026-11", plan="2026-11")
    assert own["data"]["node"]["objectives"] == [
        {"period": "2026-11", "metric": "ACTIVITIES", "target": "100"}
    ]
    # a colleague's: the employee is visible, its objectives are not
    peer = await rep(EMPLOYEE_ERM, id=gid("Employee", org.mid), period=None, plan="2026-11")
    assert peer["data"]["node"]["objectives"] == []
    outsider = Caller(client, app, org.other_user)
    hidden = await outsider(EMPLOYEE_ERM, id=gid("Employee", org.rep), period=None, plan="2026-11")
    assert hidden["data"]["node"]["objectives"] == []


@pytest.mark.asyncio
async def test_employees_and_partner_users_may_not_set_objectives(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    org = await make_org(database)
    for user in (org.rep_user, org.partner_admin):
        body = await Caller(client, app, user)(
            SET_OBJECTIVE,
            input={
                "employeeId": gid("Employee", org.rep),
                "period": "2026",
                "metric": "DEALS_WON",
                "target": "1",
            },
        )
        assert error_codes(body) == ["FORBIDDEN"]
    assert await count(database, org.tenant, Objective) == 0


# --- compensation ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_admins_create_and_change_plans_and_managers_assign_them(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    org = await make_org(database)
    admin = Caller(client, app, org.tenant.admin)
    created = await admin(
        CREATE_PLAN,
        input={
            "name": " Field sales ",
            "basePercent": "5",
            "acceleratorPercent": "2.5",
            "capAmount": {"amount": "20000", "currency": "eur"},
        },
    )
    plan = created["data"]["createCompensationPlan"]["compensationPlan"]
    assert plan | {"id": None} == {
        "id": None,
        "name": "Field sales",
        "basePercent": "5.00",
        "acceleratorPercent": "2.50",
        "capAmount": {"amount": "20000.00", "currency": "EUR"},
        "currency": "EUR",
        "active": True,
    }
    uncapped = await admin(CREATE_PLAN, input={"name": "Inside sales", "basePercent": "3"})
    inside = uncapped["data"]["createCompensationPlan"]["compensationPlan"]
    assert (inside["currency"], inside["capAmount"], inside["acceleratorPercent"]) == (
        "USD",
        None,
        "0.00",
    )
    updated = await admin(UPDATE_PLAN, id=plan["id"], input={"basePercent": "6", "capAmount": None})
    assert updated["data"]["updateCompensationPlan"]["compensationPlan"] | {"name": None} == {
        "name": None,
        "basePercent": "6.00",
        "acceleratorPercent": "2.50",
        "capAmount": None,
        "active": True,
    }

    boss = Caller(client, app, org.boss_user)
    assert (await boss(PLANS))["data"]["compensationPlans"]["totalCount"] == 2
    assign = {"employeeId": gid("Employee", org.rep), "planId": plan["id"], "period": "2026-Q4"}
    first = await boss(ASSIGN_PLAN, input=assign)
    assignment = first["data"]["assignCompensationPlan"]["compensationAssignment"]
    assert assignment["plan"] == {"name": "Field sales"}
    again = await boss(ASSIGN_PLAN, input=assign | {"planId": inside["id"]})
    replaced = again["data"]["assignCompensationPlan"]["compensationAssignment"]
    assert (replaced["id"], replaced["plan"]) == (assignment["id"], {"name": "Inside sales"})
    assert await count(database, org.tenant, CompensationAssignment) == 1

    # a month inside the quarter falls back to the quarter's plan; the rep reads its own
    rep = Caller(client, app, org.rep_user)
    own = await rep(EMPLOYEE_ERM, id=gid("Employee", org.rep), period=None, plan="2026-11")
    assert own["data"]["node"]["compensationPlan"] == {"name": "Inside sales"}
    before = await rep(EMPLOYEE_ERM, id=gid("Employee", org.rep), period=None, plan="2026-09")
    assert before["data"]["node"]["compensationPlan"] is None
    outsider = Caller(client, app, org.other_user)
    hidden = await outsider(EMPLOYEE_ERM, id=gid("Employee", org.rep), period=None, plan="2026-Q4")
    assert hidden["data"]["node"]["compensationPlan"] is None
    assert error_codes(await rep(PLANS)) == ["FORBIDDEN"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        pytest.param({"basePercent": "100.5"}, "INVALID", "basePercent", id="base over 100"),
        pytest.param({"acceleratorPercent": "-1"}, "INVALID", "acceleratorPercent", id="neg"),
        pytest.param({"basePercent": "1.234"}, "INVALID", "basePercent", id="3 decimals"),
        pytest.param({"name": "  "}, "INVALID", "name", id="blank name"),
        pytest.param({"name": "Taken"}, "DUPLICATE", "name", id="name taken"),
        pytest.param(
            {"capAmount": {"amount": "0", "currency": "USD"}},
            "INVALID",
            "capAmount.amount",
            id="zero cap",
        ),
        pytest.param(
            {"capAmount": {"amount": "10", "currency": "XYZ"}},
            "INVALID",
            "capAmount.currency",
            id="bad currency",
        ),
    ],
)
async def test_a_bad_plan_is_refused_and_nothing_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    org = await make_org(database)
    admin = Caller(client, app, org.tenant.admin)
    taken = await admin(CREATE_PLAN, input={"name": "Taken", "basePercent": "1"})
    assert taken["data"]["createCompensationPlan"]["errors"] == []
    body = await admin(CREATE_PLAN, input={"name": "New", "basePercent": "5"} | fields)
    payload = body["data"]["createCompensationPlan"]
    assert payload["compensationPlan"] is None
    assert errors_of(payload) == [(code, field)]
    assert await count(database, org.tenant, CompensationPlan) == 1
    manager = await Caller(client, app, org.boss_user)(
        CREATE_PLAN, input={"name": "Mine", "basePercent": "5"}
    )
    assert error_codes(manager) == ["FORBIDDEN"]


@pytest.mark.asyncio
async def test_a_plan_is_assigned_only_below_and_only_when_active(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    org = await make_org(database)
    admin = Caller(client, app, org.tenant.admin)
    created = await admin(CREATE_PLAN, input={"name": "Plan", "basePercent": "5"})
    plan_id = created["data"]["createCompensationPlan"]["compensationPlan"]["id"]
    retired = await admin(CREATE_PLAN, input={"name": "Retired", "basePercent": "5"})
    retired_id = retired["data"]["createCompensationPlan"]["compensationPlan"]["id"]
    await admin(UPDATE_PLAN, id=retired_id, input={"active": False})
    cases = [
        (org.other_user, {}, ("NOT_FOUND", "employeeId")),
        (org.boss_user, {"period": "Q4"}, ("INVALID", "period")),
        (org.boss_user, {"planId": retired_id}, ("INVALID", "planId")),
        (org.boss_user, {"planId": gid("CompensationPlan", uuid.uuid4())}, ("NOT_FOUND", "planId")),
    ]
    for user, fields, error in cases:
        body = await Caller(client, app, user)(
            ASSIGN_PLAN,
            input={"employeeId": gid("Employee", org.rep), "planId": plan_id, "period": "2026"}
            | fields,
        )
        assert errors_of(body["data"]["assignCompensationPlan"]) == [error]
    assert await count(database, org.tenant, CompensationAssignment) == 0


# --- performance reviews -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_review_is_revised_until_the_employee_acknowledges_it(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    org = await make_org(database)
    boss = Caller(client, app, org.boss_user)
    review_input = {
        "employeeId": gid("Employee", org.rep),
        "period": "2026",
        "rating": 3,
        "strengths": " Persistent ",
        "goals": "Close bigger deals",
    }
    first = await boss(SUBMIT_REVIEW, input=review_input)
    review = first["data"]["submitPerformanceReview"]["performanceReview"]
    assert review | {"id": None} == {
        "id": None,
        "period": "2026",
        "rating": 3,
        "strengths": "Persistent",
        "goals": "Close bigger deals",
        "acknowledgedAt": None,
        "employee": {"name": "Rep"},
        "reviewer": {"name": "Boss"},
    }
    mid = Caller(client, app, org.mid_user)
    revised = await mid(SUBMIT_REVIEW, input=review_input | {"rating": 4})
    revision = revised["data"]["submitPerformanceReview"]["performanceReview"]
    assert (revision["id"], revision["rating"], revision["reviewer"]) == (
        review["id"],
        4,
        {"name": "Mid"},
    )

    # only the reviewed employee acknowledges: others who see it are NOT_ELIGIBLE, others
    # still NOT_FOUND
    not_eligible = await mid(ACKNOWLEDGE, id=review["id"])
    assert errors_of(not_eligible["data"]["acknowledgePerformanceReview"]) == [
        ("NOT_ELIGIBLE", "id")
    ]
    outsider = await Caller(client, app, org.other_user)(ACKNOWLEDGE, id=review["id"])
    assert errors_of(outsider["data"]["acknowledgePerformanceReview"]) == [("NOT_FOUND", "id")]
    rep = Caller(client, app, org.rep_user)
    acknowledged = await rep(ACKNOWLEDGE, id=review["id"])
    assert acknowledged["data"]["acknowledgePerformanceReview"]["errors"] == []
    assert acknowledged["data"]["acknowledgePerformanceReview"]["performanceReview"][
        "acknowledgedAt"
    ]
    twice = await rep(ACKNOWLEDGE, id=review["id"])
    assert errors_of(twice["data"]["acknowledgePerformanceReview"]) == [
        ("INVALID_TRANSITION", "id")
    ]
    final = await boss(SUBMIT_REVIEW, input=review_input | {"rating": 5})
    assert errors_of(final["data"]["submitPerformanceReview"]) == [("DUPLICATE", "period")]
    async with database.session(org.tenant.id) as session:
        stored = (await session.scalars(select(PerformanceReview))).one()
    assert stored.rating == 4
    assert await audit_operations(database, org.tenant) == [
        "submitPerformanceReview",
        "submitPerformanceReview",
        "acknowledgePerformanceReview",
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("caller", "fields", "code", "field"),
    [
        pytest.param("boss", {"rating": 6}, "INVALID", "rating", id="rating 6"),
        pytest.param("boss", {"rating": 0}, "INVALID", "rating", id="rating 0"),
        pytest.param("boss", {"period": "2026-Q5"}, "INVALID", "period", id="bad period"),
        pytest.param("boss", {"strengths": "x" * 10_001}, "INVALID", "strengths", id="long"),
        pytest.param("other", {}, "NOT_FOUND", "employeeId", id="not below"),
        pytest.param("mid", {"employeeId": "SELF"}, "NOT_FOUND", "employeeId", id="self"),
    ],
)
async def test_a_bad_review_is_refused_and_nothing_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    caller: str,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    org = await make_org(database)
    if fields.get("employeeId") == "SELF":
        fields = fields | {"employeeId": gid("Employee", org.mid)}
    user = {"boss": org.boss_user, "mid": org.mid_user, "other": org.other_user}[caller]
    body = await Caller(client, app, user)(
        SUBMIT_REVIEW,
        input={"employeeId": gid("Employee", org.rep), "period": "2026-11", "rating": 3} | fields,
    )
    payload = body["data"]["submitPerformanceReview"]
    assert payload["performanceReview"] is None
    assert errors_of(payload) == [(code, field)]
    assert await count(database, org.tenant, PerformanceReview) == 0
    assert await audit_operations(database, org.tenant) == []


@pytest.mark.asyncio
async def test_reviews_are_listed_with_the_hierarchy_visibility(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    org = await make_org(database)
    admin = Caller(client, app, org.tenant.admin)
    for employee, period in ((org.mid, "2026"), (org.rep, "2026"), (org.rep, "2025")):
        body = await admin(
            SUBMIT_REVIEW,
            input={"employeeId": gid("Employee", employee), "period": period, "rating": 4},
        )
        assert body["data"]["submitPerformanceReview"]["errors"] == []
    await admin(
        SUBMIT_REVIEW,
        input={"employeeId": gid("Employee", org.other_report), "period": "2026", "rating": 2},
    )

    async def seen(user: User, **filter_: Any) -> list[tuple[str, str]]:
        body = await Caller(client, app, user)(REVIEWS, filter=filter_ or None)
        edges = body["data"]["performanceReviews"]["edges"]
        return sorted((edge["node"]["employee"]["name"], edge["node"]["period"]) for edge in edges)

    assert len(await seen(org.tenant.admin)) == 4
    assert await seen(org.boss_user) == [("Mid", "2026"), ("Rep", "2025"), ("Rep", "2026")]
    assert await seen(org.mid_user) == [("Mid", "2026"), ("Rep", "2025"), ("Rep", "2026")]
    assert await seen(org.rep_user) == [("Rep", "2025"), ("Rep", "2026")]
    assert await seen(org.boss_user, period="2026") == [("Mid", "2026"), ("Rep", "2026")]
    assert await seen(org.boss_user, employeeId=gid("Employee", org.rep), period="2025") == [
        ("Rep", "2025")
    ]
    assert await seen(org.boss_user, employeeId=gid("Employee", org.other_report)) == []
    assert await seen(org.other_user) == [("OtherReport", "2026")]
    partner = await Caller(client, app, org.partner_rep)(REVIEWS)
    assert error_codes(partner) == ["FORBIDDEN"]


# --- training ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_training_is_recorded_for_employees_and_partner_users(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    org = await make_org(database)
    now = datetime.now(UTC)
    manager = Caller(client, app, org.boss_user)
    staff = await manager(
        RECORD_TRAINING,
        input={
            "employeeId": gid("Employee", org.other_report),
            "course": "Negotiation",
            "completedAt": (now - timedelta(days=3)).isoformat(),
        },
    )
    assert staff["data"]["recordTraining"]["trainingRecord"] | {"id": None} == {
        "id": None,
        "course": "Negotiation",
        "certification": None,
        "current": True,
        "employee": {"name": "OtherReport"},
        "user": None,
        "partner": None,
    }
    partner_admin = Caller(client, app, org.partner_admin)
    certified = await partner_admin(
        RECORD_TRAINING,
        input={
            "userId": gid("User", org.partner_rep),
            "course": "Solar installer",
            "certification": "SOLAR",
            "completedAt": (now - timedelta(days=400)).isoformat(),
            "expiresAt": (now + timedelta(days=330)).isoformat(),
        },
    )
    record = certified["data"]["recordTraining"]["trainingRecord"]
    assert record["partner"] == {"id": gid("Partner", org.partner)}
    assert record["current"] is True
    lapsed = await manager(
        RECORD_TRAINING,
        input={
            "userId": gid("User", org.partner_rep),
            "course": "Heat pumps",
            "certification": "HEAT_PUMP",
            "completedAt": (now - timedelta(days=800)).isoformat(),
            "expiresAt": (now - timedelta(days=70)).isoformat(),
        },
    )
    assert lapsed["data"]["recordTraining"]["trainingRecord"]["current"] is False

    async def courses(user: User, **filter_: Any) -> list[str]:
        body = await Caller(client, app, user)(TRAINING, filter=filter_ or None)
        return sorted(edge["node"]["course"] for edge in body["data"]["trainingRecords"]["edges"])

    assert await courses(org.tenant.admin) == ["Heat pumps", "Negotiation", "Solar installer"]
    assert await courses(org.tenant.admin, current=True) == ["Negotiation", "Solar installer"]
    assert await courses(org.tenant.admin, current=False) == ["Heat pumps"]
    assert await courses(org.boss_user, partnerId=gid("Partner", org.partner)) == [
        "Heat pumps",
        "Solar installer",
    ]
    assert await courses(org.boss_user, certification="SOLAR", current=True) == ["Solar installer"]
    assert await courses(org.boss_user, employeeId=gid("Employee", org.other_report)) == [
        "Negotiation"
    ]
    assert await courses(org.partner_rep) == ["Heat pumps", "Solar installer"]
    assert await courses(org.stranger_partner_user) == []
    assert await courses(org.rep_user) == []

    partner_ids = select(Partner.id).where(
        Partner.tenant_id == org.tenant.id,
        partner_has_current_certification(Partner.id, "SOLAR", now, tenant_id=Partner.tenant_id),
    )
    lapsed_ids = select(Partner.id).where(
        partner_has_current_certification(Partner.id, "HEAT_PUMP", now)
    )
    async with database.session(org.tenant.id) as session:
        assert list(await session.scalars(partner_ids)) == [org.partner.id]
        assert list(await session.scalars(lapsed_ids)) == []
        back_then = select(Partner.id).where(
            partner_has_current_certification(Partner.id, "HEAT_PUMP", now - timedelta(days=100))
        )
        assert list(await session.scalars(back_then)) == [org.partner.id]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("caller", "fields", "code", "field"),
    [
        pytest.param("admin", {"employeeId": "REP", "userId": "PARTNER_REP"}, "INVALID",
                     "employeeId", id="both"),
        pytest.param("admin", {}, "INVALID", "employeeId", id="neither"),
        pytest.param("admin", {"employeeId": "REP", "expiresAt": "EARLIER"}, "INVALID",
                     "expiresAt", id="expires before completed"),
        pytest.param("admin", {"employeeId": "REP", "completedAt": "FUTURE"}, "INVALID",
                     "completedAt", id="completed in the future"),
        pytest.param("admin", {"employeeId": "REP", "course": " "}, "INVALID", "course",
                     id="blank course"),
        pytest.param("admin", {"employeeId": "FOREIGN"}, "NOT_FOUND", "employeeId",
                     id="foreign employee"),
        pytest.param("admin", {"userId": "STAFF"}, "INVALID", "userId", id="staff user"),
        pytest.param("partner_admin", {"employeeId": "REP"}, "NOT_FOUND", "employeeId",
                     id="partner admin for staff"),
        pytest.param("partner_admin", {"userId": "STRANGER"}, "NOT_FOUND", "userId",
                     id="another partner's user"),
    ],
)  # fmt: skip
async def test_bad_training_is_refused_and_nothing_written(
    client: httpx.AsyncClient,
    app: FastAPI,
    database: Database,
    caller: str,
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    org = await make_org(database)
    now = datetime.now(UTC)
    values = {
        "REP": gid("Employee", org.rep),
        "PARTNER_REP": gid("User", org.partner_rep),
        "STRANGER": gid("User", org.stranger_partner_user),
        "STAFF": gid("User", org.rep_user),
        "EARLIER": (now - timedelta(days=2)).isoformat(),
        "FUTURE": (now + timedelta(days=2)).isoformat(),
    }
    if "FOREIGN" in fields.values():
        foreign = await make_employee(database, (await make_tenant(database)).id)
        values["FOREIGN"] = gid("Employee", foreign)
    fields = {key: values.get(value, value) for key, value in fields.items()}
    user = {"admin": org.tenant.admin, "partner_admin": org.partner_admin}[caller]
    body = await Caller(client, app, user)(
        RECORD_TRAINING,
        input={"course": "Course", "completedAt": (now - timedelta(days=1)).isoformat()} | fields,
    )
    payload = body["data"]["recordTraining"]
    assert payload["trainingRecord"] is None
    assert errors_of(payload) == [(code, field)]
    assert await count(database, org.tenant, TrainingRecord) == 0
    assert await audit_operations(database, org.tenant) == []
    rep = await Caller(client, app, org.partner_rep)(
        RECORD_TRAINING,
        input={
            "userId": gid("User", org.partner_rep),
            "course": "C",
            "completedAt": now.isoformat(),
        },
    )
    assert error_codes(rep) == ["FORBIDDEN"]
