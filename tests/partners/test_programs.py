"""Channel programs over GraphQL: programs and levels (benefits, criteria replaced whole),
enrolment by admins (entry level by default, SET, LEFT), auto-enrolment when turned on,
the partner's view of its level and progress, who sees what, and bad input writing
nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.db.engine import Database
from prm.metrics.periods import period_containing
from prm.partners.program_models import (
    ChannelProgram,
    LevelChange,
    LevelCriterion,
    ProgramEnrolment,
    ProgramLevel,
)
from prm.tenants.models import User
from tests.factories import make_partner, make_tenant, make_tier
from tests.metrics.snapshots import insert, partner_row
from tests.partners.support import Caller, Cast, gid, make_cast, set_partner_columns
from tests.statements import counting_statements

ERRORS = "errors { code field message }"
LEVEL_FIELDS = """id name rank description mdfEligible dealProtectionDays requiredCertification
  tier { id } mdfAllocation { amount currency } criteria { metric minimum quarters }"""
PROGRAM_FIELDS = f"""id name description active autoEnrol autoEnrolCountries
  autoEnrolCapabilities graceDays levels {{ {LEVEL_FIELDS} }}"""
CREATE_PROGRAM = f"""mutation ($input: CreateChannelProgramInput!) {{
  createChannelProgram(input: $input) {{ channelProgram {{ {PROGRAM_FIELDS} }} {ERRORS} }} }}"""
UPDATE_PROGRAM = f"""mutation ($id: ID!, $input: UpdateChannelProgramInput!) {{
  updateChannelProgram(id: $id, input: $input) {{ channelProgram {{ {PROGRAM_FIELDS} }} {ERRORS} }}
}}"""
CREATE_LEVEL = f"""mutation ($input: CreateProgramLevelInput!) {{
  createProgramLevel(input: $input) {{ programLevel {{ {LEVEL_FIELDS} }} {ERRORS} }} }}"""
UPDATE_LEVEL = f"""mutation ($id: ID!, $input: UpdateProgramLevelInput!) {{
  updateProgramLevel(id: $id, input: $input) {{ programLevel {{ {LEVEL_FIELDS} }} {ERRORS} }} }}"""
DELETE_LEVEL = f"""mutation ($id: ID!) {{
  deleteProgramLevel(id: $id) {{ deletedId {ERRORS} }} }}"""
ENROLMENT_FIELDS = """id source program { id name } partner { id } level { id name }
  levelSince belowCriteriaSince demotionDueAt nextLevel { id name }
  progress { metric required actual met quarters } certificationMet
  history(first: 10) { totalCount edges { node { kind fromLevelName toLevelName reason } } }"""
ENROL = f"""mutation ($programId: ID!, $partnerId: ID!, $levelId: ID) {{
  enrolPartner(programId: $programId, partnerId: $partnerId, levelId: $levelId) {{
    programEnrolment {{ {ENROLMENT_FIELDS} }} {ERRORS} }} }}"""
SET_LEVEL = f"""mutation ($enrolmentId: ID!, $levelId: ID!, $reason: String!) {{
  setPartnerLevel(enrolmentId: $enrolmentId, levelId: $levelId, reason: $reason) {{
    programEnrolment {{ {ENROLMENT_FIELDS} }} {ERRORS} }} }}"""
WITHDRAW = f"""mutation ($enrolmentId: ID!, $reason: String!) {{
  withdrawPartner(enrolmentId: $enrolmentId, reason: $reason) {{ withdrawnId {ERRORS} }} }}"""
PROGRAMS = f"""query ($first: Int, $after: String) {{
  channelPrograms(first: $first, after: $after) {{
    totalCount edges {{ node {{ {PROGRAM_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
ENROLMENTS = f"""query ($filter: ProgramEnrolmentFilter, $first: Int) {{
  programEnrolments(filter: $filter, first: $first) {{
    totalCount edges {{ node {{ {ENROLMENT_FIELDS} }} }} }} }}"""
NODE = """query ($id: ID!) { node(id: $id) { id } }"""


def caller(client: httpx.AsyncClient, app: FastAPI, user: User) -> Caller:
    return Caller(client, app, user)


def ok(body: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][name]
    assert payload["errors"] == [], payload["errors"]
    return payload


def failed(body: dict[str, Any], name: str) -> list[tuple[str, str | None]]:
    assert "errors" not in body, body
    payload = body["data"][name]
    return [(error["code"], error["field"]) for error in payload["errors"]]


async def rows(database: Database, cast: Cast, model: Any) -> int:
    async with database.session(cast.tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def make_program(admin: Caller, **extra: Any) -> dict[str, Any]:
    body = await admin(CREATE_PROGRAM, input={"name": "Reseller", **extra})
    return ok(body, "createChannelProgram")["channelProgram"]


async def make_level(admin: Caller, program_id: str, name: str, rank: int, **extra: Any) -> Any:
    body = await admin(
        CREATE_LEVEL, input={"programId": program_id, "name": name, "rank": rank, **extra}
    )
    return ok(body, "createProgramLevel")["programLevel"]


@pytest.mark.asyncio
async def test_an_admin_builds_a_program_with_ranked_levels_benefits_and_criteria(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    tier = await make_tier(database, cast.tenant.id, rank=4)
    admin = caller(client, app, cast.admin)
    program = await make_program(
        admin, description="Resellers", autoEnrolCountries=["de"], graceDays=45
    )
    assert (program["autoEnrolCountries"], program["graceDays"], program["levels"]) == (
        ["DE"],
        45,
        [],
    )
    gold = await make_level(
        admin,
        program["id"],
        "Gold",
        30,
        tierId=gid("PartnerTier", tier),
        mdfEligible=True,
        mdfAllocation={"amount": "5000.00", "currency": "USD"},
        dealProtectionDays=180,
        requiredCertification="cloud-expert",
        criteria=[
            {"metric": "REVENUE_WON", "minimum": "100000"},
            {"metric": "WIN_RATE", "minimum": "0.5", "quarters": 2},
        ],
    )
    assert gold["tier"] == {"id": gid("PartnerTier", tier)}
    assert gold["mdfAllocation"] == {"amount": "5000.00", "currency": "USD"}
    assert gold["criteria"] == [
        {"metric": "REVENUE_WON", "minimum": "100000", "quarters": 4},
        {"metric": "WIN_RATE", "minimum": "0.5", "quarters": 2},
    ]
    await make_level(admin, program["id"], "Bronze", 10)

    # Criteria given on update replace all of them.
    body = await admin(
        UPDATE_LEVEL,
        id=gold["id"],
        input={"criteria": [{"metric": "SCORE", "minimum": "70", "quarters": 1}], "name": "Au"},
    )
    updated = ok(body, "updateProgramLevel")["programLevel"]
    assert (updated["name"], updated["criteria"]) == (
        "Au",
        [{"metric": "SCORE", "minimum": "70", "quarters": 1}],
    )
    assert updated["dealProtectionDays"] == 180  # untouched
    assert await rows(database, cast, LevelCriterion) == 1

    manager = caller(client, app, cast.manager)
    listed = (await manager(PROGRAMS))["data"]["channelPrograms"]
    assert listed["totalCount"] == 1
    [node] = [edge["node"] for edge in listed["edges"]]
    assert [level["name"] for level in node["levels"]] == ["Bronze", "Au"]  # by rank

    body = await admin(UPDATE_PROGRAM, id=program["id"], input={"graceDays": 10, "active": False})
    assert ok(body, "updateChannelProgram")["channelProgram"]["graceDays"] == 10
    assert (await admin(NODE, id=program["id"]))["data"]["node"] == {"id": program["id"]}


@pytest.mark.asyncio
async def test_bad_level_input_gets_a_typed_error_and_writes_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    other = await make_tenant(database)
    foreign_tier = await make_tier(database, other.id)
    admin = caller(client, app, cast.admin)
    program = await make_program(admin)
    level = await make_level(admin, program["id"], "Silver", 2)
    before = (await rows(database, cast, ProgramLevel), await rows(database, cast, LevelCriterion))
    base = {"programId": program["id"], "name": "Gold", "rank": 3}
    cases: list[tuple[dict[str, Any], tuple[str, str]]] = [
        (
            {
                "criteria": [
                    {"metric": "DEALS_WON", "minimum": "5"},
                    {"metric": "DEALS_WON", "minimum": "6"},
                ]
            },
            ("INVALID", "criteria.1.metric"),
        ),
        (
            {"criteria": [{"metric": "WIN_RATE", "minimum": "1.5"}]},
            ("INVALID", "criteria.0.minimum"),
        ),
        ({"criteria": [{"metric": "SCORE", "minimum": "-1"}]}, ("INVALID", "criteria.0.minimum")),
        (
            {"criteria": [{"metric": "SCORE", "minimum": "1", "quarters": 9}]},
            ("INVALID", "criteria.0.quarters"),
        ),
        ({"tierId": gid("PartnerTier", foreign_tier)}, ("NOT_FOUND", "tierId")),
        (
            {"mdfAllocation": {"amount": "10", "currency": "EUR"}},
            ("INVALID", "mdfAllocation.currency"),
        ),
        ({"dealProtectionDays": 5000}, ("INVALID", "dealProtectionDays")),
        ({"rank": 2}, ("DUPLICATE", "rank")),
        ({"name": " "}, ("INVALID", "name")),
        ({"programId": gid("ChannelProgram", foreign_tier)}, ("NOT_FOUND", "programId")),
    ]
    for extra, expected in cases:
        body = await admin(CREATE_LEVEL, input={**base, **extra})
        assert failed(body, "createProgramLevel") == [expected], extra
    # A failing update leaves the criteria as they were.
    body = await admin(
        UPDATE_LEVEL,
        id=level["id"],
        input={
            "criteria": [{"metric": "SCORE", "minimum": "1"}, {"metric": "SCORE", "minimum": "2"}]
        },
    )
    assert failed(body, "updateProgramLevel") == [("INVALID", "criteria.1.metric")]
    assert (
        await rows(database, cast, ProgramLevel),
        await rows(database, cast, LevelCriterion),
    ) == before

    body = await admin(CREATE_PROGRAM, input={"name": "X", "graceDays": 400})
    assert failed(body, "createChannelProgram") == [("INVALID", "graceDays")]
    body = await admin(CREATE_PROGRAM, input={"name": "Reseller"})
    assert failed(body, "createChannelProgram") == [("DUPLICATE", "name")]
    body = await admin(CREATE_PROGRAM, input={"name": "Y", "autoEnrolCountries": ["Germany"]})
    assert failed(body, "createChannelProgram") == [("INVALID", "autoEnrolCountries")]
    assert await rows(database, cast, ChannelProgram) == 1

    for role in ("manager", "partner_admin"):
        body = await caller(client, app, cast.user(role))(CREATE_PROGRAM, input={"name": "Z"})
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]


@pytest.mark.asyncio
async def test_enrolment_set_level_and_withdrawal_keep_a_history(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = caller(client, app, cast.admin)
    program = await make_program(admin)
    gold = await make_level(admin, program["id"], "Gold", 3)
    bronze = await make_level(admin, program["id"], "Bronze", 1)
    partner_id = gid("Partner", cast.partner)

    body = await admin(ENROL, programId=program["id"], partnerId=partner_id)
    enrolment = ok(body, "enrolPartner")["programEnrolment"]
    assert (enrolment["source"], enrolment["level"]["name"]) == ("ADMIN", "Bronze")  # entry
    assert enrolment["nextLevel"] == {"id": gold["id"], "name": "Gold"}
    assert enrolment["levelSince"] is not None

    body = await admin(ENROL, programId=program["id"], partnerId=partner_id)
    assert failed(body, "enrolPartner") == [("DUPLICATE", "partnerId")]

    body = await admin(SET_LEVEL, enrolmentId=enrolment["id"], levelId=gold["id"], reason=" ")
    assert failed(body, "setPartnerLevel") == [("INVALID", "reason")]
    body = await admin(
        SET_LEVEL, enrolmentId=enrolment["id"], levelId=gold["id"], reason="strategic account"
    )
    moved = ok(body, "setPartnerLevel")["programEnrolment"]
    assert (moved["level"]["name"], moved["nextLevel"]) == ("Gold", None)
    history = [edge["node"] for edge in moved["history"]["edges"]]
    assert history == [
        {
            "kind": "SET",
            "fromLevelName": "Bronze",
            "toLevelName": "Gold",
            "reason": "strategic account",
        },
        {"kind": "ENROLLED", "fromLevelName": None, "toLevelName": "Bronze", "reason": None},
    ]

    body = await admin(DELETE_LEVEL, id=gold["id"])
    assert failed(body, "deleteProgramLevel") == [("CONFLICT", "id")]
    body = await admin(WITHDRAW, enrolmentId=enrolment["id"], reason="contract ended")
    assert ok(body, "withdrawPartner")["withdrawnId"] == enrolment["id"]
    assert await rows(database, cast, ProgramEnrolment) == 0
    body = await admin(DELETE_LEVEL, id=gold["id"])
    assert ok(body, "deleteProgramLevel")["deletedId"] == gold["id"]
    async with database.session(cast.tenant.id) as session:
        kinds = list(await session.scalars(select(LevelChange.kind).order_by(LevelChange.id)))
    assert [kind.value for kind in kinds] == ["ENROLLED", "SET", "LEFT"]
    assert bronze["rank"] == 1


@pytest.mark.asyncio
async def test_foreign_and_unknown_ids_are_not_found(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    other = await make_cast(database)
    admin = caller(client, app, cast.admin)
    program = await make_program(admin)
    level = await make_level(admin, program["id"], "Bronze", 1)
    other_admin = caller(client, app, other.admin)
    other_program = await make_program(other_admin)
    other_level = await make_level(other_admin, other_program["id"], "B", 1)

    body = await admin(ENROL, programId=program["id"], partnerId=gid("Partner", other.partner))
    assert failed(body, "enrolPartner") == [("NOT_FOUND", "partnerId")]
    body = await admin(ENROL, programId=other_program["id"], partnerId=gid("Partner", cast.partner))
    assert failed(body, "enrolPartner") == [("NOT_FOUND", "programId")]
    body = await admin(
        ENROL,
        programId=program["id"],
        partnerId=gid("Partner", cast.partner),
        levelId=other_level["id"],
    )
    assert failed(body, "enrolPartner") == [("NOT_FOUND", "levelId")]
    body = await admin(UPDATE_LEVEL, id=other_level["id"], input={"name": "mine"})
    assert failed(body, "updateProgramLevel") == [("NOT_FOUND", "id")]
    body = await admin(DELETE_LEVEL, id="garbage")
    assert failed(body, "deleteProgramLevel") == [("NOT_FOUND", "id")]
    assert (await admin(NODE, id=other_program["id"]))["data"]["node"] is None
    assert await rows(database, cast, ProgramEnrolment) == 0
    assert level["name"] == "Bronze"


@pytest.mark.asyncio
async def test_partner_users_see_their_own_enrolments_only(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    rival = await make_partner(database, cast.tenant.id)
    admin = caller(client, app, cast.admin)
    program = await make_program(admin)
    hidden = await make_program(admin, name="Distributor")
    await make_level(admin, program["id"], "Bronze", 1)
    await make_level(admin, hidden["id"], "Bronze", 1)
    mine = ok(
        await admin(ENROL, programId=program["id"], partnerId=gid("Partner", cast.partner)),
        "enrolPartner",
    )["programEnrolment"]
    theirs = ok(
        await admin(ENROL, programId=hidden["id"], partnerId=gid("Partner", rival)),
        "enrolPartner",
    )["programEnrolment"]

    rep = caller(client, app, cast.partner_rep)
    seen = (await rep(ENROLMENTS))["data"]["programEnrolments"]
    assert [edge["node"]["id"] for edge in seen["edges"]] == [mine["id"]]
    filtered = await rep(ENROLMENTS, filter={"partnerId": gid("Partner", rival)})
    assert filtered["data"]["programEnrolments"]["edges"] == []
    assert (await rep(NODE, id=theirs["id"]))["data"]["node"] is None
    programs = (await rep(PROGRAMS))["data"]["channelPrograms"]["edges"]
    assert [edge["node"]["id"] for edge in programs] == [program["id"]]
    assert (await rep(NODE, id=hidden["id"]))["data"]["node"] is None

    employee = caller(client, app, cast.employee)
    assert (await employee(ENROLMENTS))["data"]["programEnrolments"]["totalCount"] == 0

    manager = caller(client, app, cast.manager)
    everyone = await manager(ENROLMENTS, filter={"programId": hidden["id"]})
    assert [e["node"]["id"] for e in everyone["data"]["programEnrolments"]["edges"]] == [
        theirs["id"]
    ]


@pytest.mark.asyncio
async def test_turning_auto_enrol_on_enrols_matching_partners_at_the_entry_level(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    await set_partner_columns(database, cast.partner, country="DE", capabilities=["cloud"])
    elsewhere = await make_partner(database, cast.tenant.id)
    await set_partner_columns(database, elsewhere, country="US", capabilities=["cloud"])
    admin = caller(client, app, cast.admin)
    program = await make_program(admin, autoEnrolCountries=["DE"])
    await make_level(admin, program["id"], "Silver", 2)
    await make_level(admin, program["id"], "Bronze", 1)
    assert await rows(database, cast, ProgramEnrolment) == 0  # autoEnrol is off

    body = await admin(UPDATE_PROGRAM, id=program["id"], input={"autoEnrol": True})
    assert ok(body, "updateChannelProgram")["channelProgram"]["autoEnrol"] is True
    enrolments = (await admin(ENROLMENTS))["data"]["programEnrolments"]["edges"]
    assert [
        (e["node"]["partner"]["id"], e["node"]["source"], e["node"]["level"]["name"])
        for e in enrolments
    ] == [(gid("Partner", cast.partner), "AUTO", "Bronze")]


@pytest.mark.asyncio
async def test_a_partner_sees_its_progress_toward_the_next_level(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = caller(client, app, cast.admin)
    program = await make_program(admin, graceDays=20)
    await make_level(admin, program["id"], "Bronze", 1)
    await make_level(
        admin,
        program["id"],
        "Silver",
        2,
        requiredCertification="sales-101",
        criteria=[
            {"metric": "REVENUE_WON", "minimum": "50000", "quarters": 2},
            {"metric": "ACCEPTANCE_RATE", "minimum": "0.8", "quarters": 2},
        ],
    )
    ok(
        await admin(ENROL, programId=program["id"], partnerId=gid("Partner", cast.partner)),
        "enrolPartner",
    )
    current = period_containing(datetime.now(UTC), "QUARTER")
    previous = current.previous()
    tenant_id = cast.tenant.id
    await insert(
        database,
        tenant_id,
        partner_row(
            tenant_id,
            cast.partner.id,
            current.key,
            revenue_won=Decimal(20_000),
            acceptance_rate=0.9,
        ),
        partner_row(
            tenant_id,
            cast.partner.id,
            previous.key,
            revenue_won=Decimal(15_000),
            acceptance_rate=0.8,
        ),
        partner_row(  # three quarters ago: outside the two-quarter window
            tenant_id, cast.partner.id, previous.previous().key, revenue_won=Decimal(90_000)
        ),
    )
    rep = caller(client, app, cast.partner_rep)
    [edge] = (await rep(ENROLMENTS))["data"]["programEnrolments"]["edges"]
    node = edge["node"]
    assert node["nextLevel"]["name"] == "Silver"
    # Revenue 20 000 + 15 000 = 35 000 < 50 000; acceptance (0.9 + 0.8) / 2 = 0.85 >= 0.8.
    assert node["progress"] == [
        {
            "metric": "ACCEPTANCE_RATE",
            "required": "0.8",
            "actual": "0.8500",
            "met": True,
            "quarters": 2,
        },
        {
            "metric": "REVENUE_WON",
            "required": "50000",
            "actual": "35000.0000",
            "met": False,
            "quarters": 2,
        },
    ]
    assert node["certificationMet"] is False
    assert (node["belowCriteriaSince"], node["demotionDueAt"]) == (None, None)


@pytest.mark.asyncio
async def test_enrolments_load_their_nested_fields_in_batches(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    cast = await make_cast(database)
    admin = caller(client, app, cast.admin)
    program = await make_program(admin)
    await make_level(admin, program["id"], "Bronze", 1)
    await make_level(
        admin, program["id"], "Silver", 2, criteria=[{"metric": "DEALS_WON", "minimum": "3"}]
    )
    for _ in range(6):
        partner = await make_partner(database, cast.tenant.id)
        ok(
            await admin(ENROL, programId=program["id"], partnerId=gid("Partner", partner)),
            "enrolPartner",
        )
    manager = caller(client, app, cast.manager)
    counts = {}
    for first in (2, 6):
        with counting_statements(database) as statements:
            body = await manager(ENROLMENTS, first=first)
        edges = body["data"]["programEnrolments"]["edges"]
        assert len(edges) == first
        assert all(edge["node"]["progress"][0]["actual"] == "0.0000" for edge in edges)
        counts[first] = len(statements)
    assert counts[2] == counts[6]
