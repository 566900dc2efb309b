"""Bulk lead import: `POST /api/v1/leads/import` and `importLeads(file:)` start a job that
stages, validates, de-duplicates, inserts and routes; every bad file is a clear 4xx with
nothing written; bad rows never block good ones; a re-run creates no duplicates."""

from __future__ import annotations

import asyncio
import codecs
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.graphql.relay import decode_global_id
from prm.leads.import_models import LeadImport, LeadImportChunk
from prm.leads.models import DistributionMode, Lead, LeadEvent
from prm.tenants.models import User
from prm.workers.actors import run_job
from prm.workers.models import Job, JobStatus
from tests.crm.factories import gid
from tests.factories import TenantWithAdmin, bearer, make_partner, make_tenant, make_user
from tests.graphql.support import error_codes, gql
from tests.leads.factories import make_lead, make_rule

PATH = "/api/v1/leads/import"
GOOD = (
    "Company_Name,Email,Country,Postal Code,PHONE,productInterest,estimatedValue,currency,source\r\n"
    "Acme Inc.,Wile@Acme.example,USA,94105,+1 415 555 0100,Rockets; rockets;Traps,1200.50,usd,fair\r\n"
    "Initech,,Germany,10115,,,,,\r\n"
    '"Umbrella, Ltd",alice@umbrella.example,GB,SW1A 1AA,,,,,\r\n'
    "Broken Mail,not-an-email,US,,,,,,\r\n"
    "Nowhere,,Atlantis,,,,,,\r\n"
    "Too,Many,Fields,,,,,,,,,\r\n"
    "Acme Again,wile@acme.example,US,,,,,,\r\n"
    "Existing Co,existing@existing.example,US,,,,,,\r\n"
    "No Currency,,US,,,,99,,\r\n"
    "\r\n"
    "Zeta,,US,,,,,,\r\n"
)
IMPORT_QUERY = """
query($id: ID!) {
  leadImport(id: $id) {
    id phase status totalRows processedRows importedRows duplicateRows errorRows routedRows
    filename sizeBytes columns
    job { id status result }
    errors(first: 50) { edges { node { rowNumber column code message } } totalCount }
  }
}
"""


def auth(app: FastAPI, user: User) -> dict[str, str]:
    return bearer(app.state.issuer, user)


async def upload(
    client: httpx.AsyncClient,
    app: FastAPI,
    user: User,
    content: bytes,
    *,
    filename: str = "leads.csv",
) -> httpx.Response:
    return await client.post(
        PATH, files={"file": (filename, content, "text/csv")}, headers=auth(app, user)
    )


async def run_import_job(database: Database, tenant: TenantWithAdmin, body: dict[str, Any]) -> None:
    decoded = decode_global_id(body["jobId"])
    assert decoded is not None
    assert decoded[0] == "Job"
    status = await asyncio.to_thread(run_job, database, "leads.import", tenant.id, decoded[1])
    assert status is JobStatus.SUCCEEDED


async def imported(
    client: httpx.AsyncClient, app: FastAPI, user: User, import_id: str
) -> dict[str, Any]:
    body = await gql(client, IMPORT_QUERY, {"id": import_id}, headers=auth(app, user))
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["leadImport"]
    return result


async def counts(database: Database, tenant: TenantWithAdmin) -> tuple[int, int, int, int]:
    async with database.session(tenant.id) as session:
        values = []
        for model in (Lead, LeadImport, LeadImportChunk, Job):
            values.append(int(await session.scalar(select(func.count()).select_from(model)) or 0))
    return values[0], values[1], values[2], values[3]


@pytest.mark.asyncio
async def test_an_import_keeps_good_rows_reports_bad_ones_and_routes(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    await make_partner(database, tenant.id)
    await make_rule(database, tenant.id, mode=DistributionMode.POOL, countries=["US"])
    existing = await make_lead(
        database, tenant.id, company_name="Existing", email="existing@existing.example"
    )

    response = await upload(client, app, manager, codecs.BOM_UTF8 + GOOD.encode())
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["phase"] == "QUEUED"
    assert body["columns"][:3] == ["companyName", "email", "country"]
    before = await imported(client, app, manager, body["id"])
    assert before["status"] == "QUEUED"

    await run_import_job(database, tenant, body)

    result = await imported(client, app, manager, body["id"])
    assert result["status"] == "SUCCEEDED"
    assert result["phase"] == "DONE"
    assert (result["totalRows"], result["importedRows"], result["routedRows"]) == (10, 4, 4)
    assert (result["duplicateRows"], result["errorRows"]) == (2, 4)
    assert result["job"]["result"]["importedRows"] == 4
    errors = [
        (e["node"]["rowNumber"], e["node"]["column"], e["node"]["code"])
        for e in result["errors"]["edges"]
    ]
    assert errors == [
        (5, "email", "INVALID"),
        (6, "country", "INVALID"),
        (7, None, "INVALID"),
        (8, None, "DUPLICATE"),
        (9, "email", "DUPLICATE"),
        (10, "currency", "INVALID"),
    ]
    messages = {e["node"]["rowNumber"]: e["node"]["message"] for e in result["errors"]["edges"]}
    assert messages[8] == "duplicates row 2"
    assert gid("Lead", existing) in messages[9]
    assert result["errors"]["totalCount"] == 6

    async with database.session(tenant.id) as session:
        leads = {
            lead.company_name: lead
            for lead in await session.scalars(select(Lead).where(Lead.id != existing.id))
        }
        created_events = await session.scalar(
            select(func.count()).select_from(LeadEvent).where(LeadEvent.kind == "CREATED")
        )
        chunks = await session.scalar(select(func.count()).select_from(LeadImportChunk))
    assert set(leads) == {"Acme Inc.", "Initech", "Umbrella, Ltd", "Zeta"}
    acme = leads["Acme Inc."]
    assert (acme.email, acme.country, acme.phone) == ("wile@acme.example", "US", "+14155550100")
    assert acme.product_interest == ["rockets", "traps"]
    assert (str(acme.estimated_value), acme.currency, acme.source) == ("1200.5000", "USD", "fair")
    assert acme.created_by == manager.id
    assert leads["Acme Inc."].status.value == "POOLED"  # the US rule pools
    assert leads["Initech"].status.value == "UNROUTABLE"  # no rule for Germany
    assert created_events == 5  # four imported leads and the existing one
    assert chunks == 0  # the file is gone once imported


@pytest.mark.asyncio
async def test_a_rerun_of_the_same_file_creates_no_duplicates(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    content = GOOD.encode()
    first = (await upload(client, app, tenant.admin, content)).json()
    await run_import_job(database, tenant, first)
    leads_after_first = (await counts(database, tenant))[0]

    second = (await upload(client, app, tenant.admin, content)).json()
    assert second["sha256"] == first["sha256"]
    await run_import_job(database, tenant, second)
    result = await imported(client, app, tenant.admin, second["id"])
    assert result["importedRows"] == 0
    assert result["duplicateRows"] == 6  # the four imported, plus the two duplicates as before
    assert (await counts(database, tenant))[0] == leads_after_first
    # Rows without an email are recognised by their natural key.
    zeta = [e for e in result["errors"]["edges"] if e["node"]["rowNumber"] == 12]
    assert "imported before" in zeta[0]["node"]["message"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (codecs.BOM_UTF8, "empty"),
        (b"   \r\n\r\n", "header"),
        (b"companyName,email\r\n", "no data rows"),
        (b"companyName", "no data rows"),
        ("companyName\r\nCaf\u00e9 Lumi\u00e8re\r\n".encode("latin-1"), "not UTF-8"),
        ("companyName\r\nAcme\r\n".encode("utf-16"), "not UTF-8"),
        (b"companyName\x00\r\nAcme\r\n", "NUL"),
        (b"Acme Inc.,wile@acme.example\r\nInitech,bob@initech.example\r\n", "unknown columns"),
        (b"companyName,favouriteColour\r\nAcme,red\r\n", "favouriteColour"),
        (b"email,country\r\nwile@acme.example,US\r\n", "companyName"),
        (b"companyName,email,EMAIL\r\nAcme,a@b.example,a@b.example\r\n", "twice"),
        (b'companyName,"email\r\nAcme,x\r\n', "header"),
    ],
)
async def test_bad_files_are_refused_with_nothing_written(
    client: httpx.AsyncClient, app: FastAPI, database: Database, content: bytes, message: str
) -> None:
    tenant = await make_tenant(database)
    response = await upload(client, app, tenant.admin, content)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "INVALID"
    assert body["field"] == "file"
    assert message in body["message"]
    assert await counts(database, tenant) == (0, 0, 0, 0)


@pytest.mark.asyncio
async def test_a_file_over_50_mb_is_refused_with_413(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    headers = auth(app, tenant.admin)
    row = b"Company Name That Is Long Enough,,US\r\n"
    big = b"companyName,email,country\r\n" + row * (50 * 1024 * 1024 // len(row) + 1)
    assert len(big) > 50 * 1024 * 1024

    declared = await upload(client, app, tenant.admin, big)
    assert declared.status_code == 413
    assert declared.json()["error"] == "LIMIT_EXCEEDED"

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: caught while reading
        for start in range(0, len(big), 1024 * 1024):
            yield big[start : start + 1024 * 1024]

    response = await client.post(
        PATH, content=streamed(), headers={**headers, "Content-Type": "text/csv"}
    )
    assert response.status_code == 413
    assert await counts(database, tenant) == (0, 0, 0, 0)


@pytest.mark.asyncio
async def test_a_raw_csv_body_works_too(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    response = await client.post(
        PATH + "?filename=raw.csv",
        content=b"companyName,country\nRaw Co,US\n",
        headers={**auth(app, tenant.admin), "Content-Type": "text/csv; charset=utf-8"},
    )
    assert response.status_code == 202, response.text
    await run_import_job(database, tenant, response.json())
    status = await client.get(f"{PATH}/{response.json()['id']}", headers=auth(app, tenant.admin))
    assert status.status_code == 200
    assert (status.json()["filename"], status.json()["importedRows"]) == ("raw.csv", 1)


@pytest.mark.asyncio
async def test_only_admins_and_managers_may_import(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id)
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    rep = await make_user(database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id)
    content = GOOD.encode()
    for user in (employee, rep):
        response = await upload(client, app, user, content)
        assert response.status_code == 403
        assert response.json()["error"] == "FORBIDDEN"
    anonymous = await client.post(PATH, files={"file": ("a.csv", content, "text/csv")})
    assert anonymous.status_code == 401
    bad_token = await client.post(
        PATH,
        files={"file": ("a.csv", content, "text/csv")},
        headers={"Authorization": "Bearer nonsense"},
    )
    assert bad_token.status_code == 401
    wrong_type = await client.post(
        PATH, content=json.dumps({"rows": []}), headers=auth(app, tenant.admin)
    )
    assert wrong_type.status_code == 415
    no_file = await client.post(PATH, data={"x": "1"}, files={"other": ("a.csv", content)},
                                headers=auth(app, tenant.admin))  # fmt: skip
    assert no_file.status_code == 400
    assert await counts(database, tenant) == (0, 0, 0, 0)


IMPORT_LEADS = """
mutation($file: Upload!) {
  importLeads(file: $file) {
    leadImport { id phase filename columns }
    job { id status kind }
    errors { code field message }
  }
}
"""


async def graphql_upload(
    client: httpx.AsyncClient, headers: dict[str, str], content: bytes
) -> httpx.Response:
    """A GraphQL multipart request (the spec Strawberry's `Upload` implements)."""
    operations = {"query": IMPORT_LEADS, "variables": {"file": None}}
    return await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("upload.csv", content, "text/csv")},
        headers=headers,
    )


@pytest.mark.asyncio
async def test_import_leads_over_graphql(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    response = await graphql_upload(client, auth(app, manager), GOOD.encode())
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["importLeads"]
    assert payload["errors"] == []
    assert payload["job"]["kind"] == "leads.import"
    assert payload["leadImport"]["filename"] == "upload.csv"
    job = decode_global_id(payload["job"]["id"])
    assert job is not None
    await asyncio.to_thread(run_job, database, "leads.import", tenant.id, job[1])
    result = await imported(client, app, manager, payload["leadImport"]["id"])
    assert (result["importedRows"], result["errorRows"], result["duplicateRows"]) == (5, 4, 1)

    listed = await gql(
        client, "{ leadImports { edges { node { id } } } }", headers=auth(app, manager)
    )
    assert [e["node"]["id"] for e in listed["data"]["leadImports"]["edges"]] == [
        payload["leadImport"]["id"]
    ]


@pytest.mark.asyncio
async def test_graphql_import_refuses_bad_files_and_roles(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    headers = auth(app, tenant.admin)
    bad = await graphql_upload(client, headers, "companyName\r\nCaf\u00e9\r\n".encode("cp1252"))
    payload = bad.json()["data"]["importLeads"]
    assert payload["leadImport"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", "file")]
    empty = await graphql_upload(client, headers, b"")
    assert "empty" in empty.json()["data"]["importLeads"]["errors"][0]["message"]
    forbidden = await graphql_upload(client, auth(app, employee), GOOD.encode())
    assert error_codes(forbidden.json()) == ["FORBIDDEN"]
    big = b"companyName\r\n" + b"x" * (50 * 1024 * 1024)
    too_large = (await graphql_upload(client, headers, big)).json()["data"]["importLeads"]
    assert [(e["code"], e["field"]) for e in too_large["errors"]] == [("LIMIT_EXCEEDED", "file")]
    assert await counts(database, tenant) == (0, 0, 0, 0)


@pytest.mark.asyncio
async def test_other_tenants_imports_are_invisible(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    tenant = await make_tenant(database)
    other = await make_tenant(database)
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    body = (await upload(client, app, tenant.admin, GOOD.encode())).json()
    for user in (other.admin, employee):
        seen = await gql(client, IMPORT_QUERY, {"id": body["id"]}, headers=auth(app, user))
        assert seen["data"]["leadImport"] is None
    assert (
        await client.get(f"{PATH}/{body['id']}", headers=auth(app, other.admin))
    ).status_code == 404
    assert (
        await client.get(f"{PATH}/{uuid.uuid4()}", headers=auth(app, tenant.admin))
    ).status_code == 404
