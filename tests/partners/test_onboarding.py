"""Partner onboarding through GraphQL: admins define each program's checklist, partner
admins submit, admins review; an ONBOARDING partner becomes ACTIVE exactly when its last
task completes (an approval, a submission needing none, a certification), is notified,
and every bad or foreign input writes nothing.

Every test starts from `make_world`: a tenant with an ONBOARDING partner (its admin and
rep) enrolled in one program, and a stranger partner (with its own admin) enrolled in
none.
"""

from __future__ import annotations

import asyncio
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
from prm.partners.models import Partner, PartnerNotification, PartnerStatus
from prm.partners.onboarding import activate_onboarded_partners
from prm.partners.program_models import (
    ChannelProgram,
    OnboardingTask,
    PartnerOnboardingTask,
    ProgramLevel,
)
from prm.tenants.models import User
from tests.factories import TenantWithAdmin, make_partner, make_tenant, make_user
from tests.graphql.support import error_codes
from tests.partners.program_factories import enrol, make_enrolled_program
from tests.partners.support import Caller, audit_operations, gid
from tests.statements import counting_statements

pytestmark = pytest.mark.asyncio

ERRORS = "errors { code field message }"
ITEM = """id status response submittedAt reviewedAt reviewComment
  task { id name kind requiresApproval certification program { id name } }
  partner { id status }"""
CREATE_TASK = f"""mutation ($input: CreateOnboardingTaskInput!) {{
  createOnboardingTask(input: $input) {{ onboardingTask {{
    id name kind description position requiresApproval certification program {{ id name }} }}
    {ERRORS} }} }}"""
UPDATE_TASK = f"""mutation ($id: ID!, $input: UpdateOnboardingTaskInput!) {{
  updateOnboardingTask(id: $id, input: $input) {{ onboardingTask {{ id name position }}
    {ERRORS} }} }}"""
DELETE_TASK = (
    f"""mutation ($id: ID!) {{ deleteOnboardingTask(id: $id) {{ deletedId {ERRORS} }} }}"""
)
SUBMIT = f"""mutation ($taskId: ID!, $response: String) {{
  submitOnboardingTask(taskId: $taskId, response: $response) {{
    onboardingItem {{ {ITEM} }} {ERRORS} }} }}"""
REVIEW = f"""mutation ($id: ID, $partnerId: ID, $taskId: ID, $approve: Boolean!,
  $comment: String) {{
  reviewOnboardingTask(id: $id, partnerId: $partnerId, taskId: $taskId, approve: $approve,
                       comment: $comment) {{ onboardingItem {{ {ITEM} }} {ERRORS} }} }}"""
CHECKLIST = f"""query ($partnerId: ID) {{ onboardingChecklist(partnerId: $partnerId) {{
  partner {{ id status }} complete completedCount totalCount items {{ {ITEM} }} }} }}"""
REVIEWS = f"""query ($first: Int, $after: String) {{ onboardingReviews(first: $first,
  after: $after) {{ totalCount pageInfo {{ hasNextPage endCursor }}
  edges {{ node {{ {ITEM} }} }} }} }}"""
TASKS = """query ($programId: ID!) { onboardingTasks(programId: $programId) {
  totalCount edges { node { name position } } } }"""
RECORD_TRAINING = f"""mutation ($input: RecordTrainingInput!) {{ recordTraining(input: $input) {{
  trainingRecord {{ id }} {ERRORS} }} }}"""


@dataclass
class World:
    tenant: TenantWithAdmin
    partner: Partner
    partner_admin: User
    partner_rep: User
    stranger: Partner
    stranger_admin: User
    program: ChannelProgram
    level: ProgramLevel
    admin: Caller
    manager: Caller
    me: Caller
    rep: Caller
    other: Caller


async def make_world(database: Database, client: httpx.AsyncClient, app: FastAPI) -> World:
    tenant = await make_tenant(database)
    partner = await make_partner(database, tenant.id, status=PartnerStatus.ONBOARDING)
    stranger = await make_partner(database, tenant.id, status=PartnerStatus.ONBOARDING)
    partner_admin = await make_user(
        database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
    )
    partner_rep = await make_user(
        database, tenant.id, roles=(Role.PARTNER_REP,), partner_id=partner.id
    )
    stranger_admin = await make_user(
        database, tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=stranger.id
    )
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    program, level = await make_enrolled_program(database, tenant.id, partner.id)
    return World(
        tenant=tenant,
        partner=partner,
        partner_admin=partner_admin,
        partner_rep=partner_rep,
        stranger=stranger,
        stranger_admin=stranger_admin,
        program=program,
        level=level,
        admin=Caller(client, app, tenant.admin),
        manager=Caller(client, app, manager),
        me=Caller(client, app, partner_admin),
        rep=Caller(client, app, partner_rep),
        other=Caller(client, app, stranger_admin),
    )


async def add_task(
    world: World, name: str, kind: str, *, program: ChannelProgram | None = None, **fields: Any
) -> str:
    body = await world.admin(
        CREATE_TASK,
        input={"programId": gid("ChannelProgram", program or world.program), "name": name,
               "kind": kind, **fields},
    )  # fmt: skip
    payload = body["data"]["createOnboardingTask"]
    assert payload["errors"] == [], payload
    task_id: str = payload["onboardingTask"]["id"]
    return task_id


async def submit(caller: Caller, task_id: str, response: str | None = None) -> dict[str, Any]:
    body = await caller(SUBMIT, taskId=task_id, response=response)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["submitOnboardingTask"]
    return payload


async def review(caller: Caller, **arguments: Any) -> dict[str, Any]:
    body = await caller(REVIEW, **arguments)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["reviewOnboardingTask"]
    return payload


async def partner_row(database: Database, partner: Partner) -> Partner:
    async with database.session(partner.tenant_id) as session:
        row = await session.scalar(
            select(Partner).where(Partner.tenant_id == partner.tenant_id, Partner.id == partner.id)
        )
        assert row is not None
        return row


async def notifications(database: Database, partner: Partner) -> list[tuple[str, dict[str, Any]]]:
    async with database.session(partner.tenant_id) as session:
        rows = await session.execute(
            select(PartnerNotification.kind, PartnerNotification.data)
            .where(
                PartnerNotification.tenant_id == partner.tenant_id,
                PartnerNotification.partner_id == partner.id,
            )
            .order_by(PartnerNotification.created_at, PartnerNotification.id)
        )
        return [(kind, dict(data or {})) for kind, data in rows]


async def row_count(database: Database, tenant: TenantWithAdmin, model: type[Any]) -> int:
    async with database.session(tenant.id) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def task_pk(global_id: str) -> str:
    from prm.graphql.relay import decode_global_id

    decoded = decode_global_id(global_id)
    assert decoded is not None
    return str(decoded[1])


async def test_partner_becomes_active_on_the_last_approval_and_not_before(
    database: Database, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = await make_world(database, client, app)
    agreement = await add_task(world, "Sign the agreement", "AGREEMENT", position=1)
    plan = await add_task(world, "Business plan", "BUSINESS_PLAN", position=2)
    profile = await add_task(world, "Complete profile", "PROFILE", position=0,
                             requiresApproval=False)  # fmt: skip

    before = await world.me(CHECKLIST)
    checklist = before["data"]["onboardingChecklist"]
    assert [item["task"]["name"] for item in checklist["items"]] == [
        "Complete profile", "Sign the agreement", "Business plan"
    ]  # fmt: skip
    assert [item["status"] for item in checklist["items"]] == ["PENDING"] * 3
    assert [item["id"] for item in checklist["items"]] == [None] * 3
    assert (checklist["completedCount"], checklist["totalCount"], checklist["complete"]) == (
        0, 3, False
    )  # fmt: skip
    assert checklist["items"][0]["task"]["program"] == {
        "id": gid("ChannelProgram", world.program), "name": world.program.name
    }  # fmt: skip

    done = await submit(world.me, profile)
    assert done["errors"] == []
    assert done["onboardingItem"]["status"] == "APPROVED"  # no approval needed
    assert done["onboardingItem"]["reviewedAt"] is not None
    signed = await submit(world.me, agreement, "MSA v3")
    assert signed["onboardingItem"]["status"] == "SUBMITTED"
    assert signed["onboardingItem"]["response"] == "MSA v3"
    planned = await submit(world.me, plan, "Sell 40 units in Q1")
    assert planned["onboardingItem"]["status"] == "SUBMITTED"
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ONBOARDING

    first = await review(world.admin, id=signed["onboardingItem"]["id"], approve=True)
    assert first["errors"] == []
    assert first["onboardingItem"]["status"] == "APPROVED"
    assert first["onboardingItem"]["partner"]["status"] == "ONBOARDING"
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ONBOARDING
    middle = (await world.me(CHECKLIST))["data"]["onboardingChecklist"]
    assert (middle["completedCount"], middle["complete"]) == (2, False)

    last = await review(world.admin, id=planned["onboardingItem"]["id"], approve=True,
                        comment="Looks good")  # fmt: skip
    assert last["errors"] == []
    assert last["onboardingItem"]["reviewComment"] == "Looks good"
    partner = await partner_row(database, world.partner)
    assert partner.status is PartnerStatus.ACTIVE
    assert partner.status_reason == "onboarding complete"
    assert partner.status_changed_at is not None
    assert last["onboardingItem"]["partner"]["status"] == "ACTIVE"

    after = (await world.me(CHECKLIST))["data"]["onboardingChecklist"]
    assert (after["completedCount"], after["totalCount"], after["complete"]) == (3, 3, True)
    kinds = [kind for kind, _ in await notifications(database, world.partner)]
    assert kinds == ["onboarding.task_reviewed", "onboarding.task_reviewed", "onboarding.completed"]
    reviewed = [data for kind, data in await notifications(database, world.partner)][:2]
    assert [data["status"] for data in reviewed] == ["APPROVED", "APPROVED"]
    assert [data["task_id"] for data in reviewed] == [task_pk(agreement), task_pk(plan)]
    assert (await partner_row(database, world.stranger)).status is PartnerStatus.ONBOARDING


async def test_training_task_completes_through_a_current_certification(
    database: Database, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = await make_world(database, client, app)
    training = await add_task(world, "Sales certification", "TRAINING", certification="CERT-A")
    other = await add_task(world, "Welcome call", "OTHER", requiresApproval=False)

    refused = await submit(world.me, training, "done")
    assert [e["code"] for e in refused["errors"]] == ["INVALID_TRANSITION"]
    assert await row_count(database, world.tenant, PartnerOnboardingTask) == 0

    assert (await submit(world.me, other))["onboardingItem"]["status"] == "APPROVED"
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ONBOARDING

    now = datetime.now(UTC)
    expired = await world.admin(RECORD_TRAINING, input={
        "userId": gid("User", world.partner_rep), "course": "Sales 101",
        "certification": "CERT-A", "completedAt": (now - timedelta(days=400)).isoformat(),
        "expiresAt": (now - timedelta(days=35)).isoformat()})  # fmt: skip
    assert expired["data"]["recordTraining"]["errors"] == []
    stale = (await world.me(CHECKLIST))["data"]["onboardingChecklist"]
    statuses = {item["task"]["name"]: item["status"] for item in stale["items"]}
    assert statuses == {"Sales certification": "PENDING", "Welcome call": "APPROVED"}
    assert (stale["completedCount"], stale["complete"]) == (1, False)
    assert await activate_onboarded_partners_now(database, world) == []

    current = await world.admin(RECORD_TRAINING, input={
        "userId": gid("User", world.partner_rep), "course": "Sales 101",
        "certification": "CERT-A", "completedAt": (now - timedelta(days=1)).isoformat(),
        "expiresAt": (now + timedelta(days=300)).isoformat()})  # fmt: skip
    assert current["data"]["recordTraining"]["errors"] == []
    fresh = (await world.me(CHECKLIST))["data"]["onboardingChecklist"]
    statuses = {item["task"]["name"]: item["status"] for item in fresh["items"]}
    assert statuses == {"Sales certification": "APPROVED", "Welcome call": "APPROVED"}
    assert fresh["complete"] is True

    # Recording the certification activated the partner in the same transaction.
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ACTIVE
    assert await activate_onboarded_partners_now(database, world) == []  # once only
    kinds = [kind for kind, _ in await notifications(database, world.partner)]
    assert kinds == ["onboarding.completed"]


async def activate_onboarded_partners_now(database: Database, world: World) -> list[uuid.UUID]:
    async with database.session(world.tenant.id) as session:
        return await activate_onboarded_partners(session, world.tenant.id)


async def test_a_held_certification_lets_the_last_submission_activate(
    database: Database, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = await make_world(database, client, app)
    await add_task(world, "Certified", "TRAINING", certification="CERT-B")
    plan = await add_task(world, "Plan", "BUSINESS_PLAN", requiresApproval=False)
    recorded = await world.me(RECORD_TRAINING, input={
        "userId": gid("User", world.partner_rep), "course": "B",
        "certification": "CERT-B", "completedAt": datetime.now(UTC).isoformat()})  # fmt: skip
    assert recorded["data"]["recordTraining"]["errors"] == []
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ONBOARDING

    done = await submit(world.me, plan, "Grow in Benelux")
    assert done["onboardingItem"]["partner"]["status"] == "ACTIVE"
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ACTIVE


async def test_rejection_then_resubmission(
    database: Database, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = await make_world(database, client, app)
    agreement = await add_task(world, "Agreement", "AGREEMENT")
    first = await submit(world.me, agreement, "v1")
    item_id = first["onboardingItem"]["id"]

    no_comment = await review(world.admin, id=item_id, approve=False)
    assert [(e["code"], e["field"]) for e in no_comment["errors"]] == [("INVALID", "comment")]
    blank = await review(world.admin, id=item_id, approve=False, comment="   ")
    assert [e["code"] for e in blank["errors"]] == ["INVALID"]
    assert await notifications(database, world.partner) == []

    rejected = await review(world.admin, id=item_id, approve=False, comment="Use v2")
    assert rejected["errors"] == []
    assert rejected["onboardingItem"]["status"] == "REJECTED"
    seen = (await world.rep(CHECKLIST))["data"]["onboardingChecklist"]["items"][0]
    assert (seen["status"], seen["reviewComment"], seen["response"]) == ("REJECTED", "Use v2", "v1")
    [(kind, data)] = await notifications(database, world.partner)
    assert (kind, data["status"], data["comment"]) == ("onboarding.task_reviewed", "REJECTED",
                                                        "Use v2")  # fmt: skip

    again = await review(world.admin, id=item_id, approve=True)
    assert [e["code"] for e in again["errors"]] == ["INVALID_TRANSITION"]

    second = await submit(world.me, agreement, "v2")
    assert second["errors"] == []
    assert second["onboardingItem"]["id"] == item_id
    assert (second["onboardingItem"]["status"], second["onboardingItem"]["response"]) == (
        "SUBMITTED", "v2"
    )  # fmt: skip
    assert second["onboardingItem"]["reviewComment"] is None
    twice = await submit(world.me, agreement, "v3")
    assert [e["code"] for e in twice["errors"]] == ["INVALID_TRANSITION"]

    pending = (await world.admin(REVIEWS))["data"]["onboardingReviews"]
    assert [edge["node"]["response"] for edge in pending["edges"]] == ["v2"]

    approved = await review(world.admin, partnerId=gid("Partner", world.partner),
                            taskId=agreement, approve=True)  # fmt: skip
    assert approved["errors"] == []
    assert approved["onboardingItem"]["status"] == "APPROVED"
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ACTIVE
    assert (await world.admin(REVIEWS))["data"]["onboardingReviews"]["totalCount"] == 0
    kinds = [kind for kind, _ in await notifications(database, world.partner)]
    assert kinds == ["onboarding.task_reviewed", "onboarding.task_reviewed",
                     "onboarding.completed"]  # fmt: skip


async def test_visibility_and_roles(
    database: Database, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = await make_world(database, client, app)
    task = await add_task(world, "Agreement", "AGREEMENT")
    item = (await submit(world.me, task, "v1"))["onboardingItem"]["id"]

    foreign = await submit(world.other, task, "v1")  # not enrolled in that program
    assert [(e["code"], e["field"]) for e in foreign["errors"]] == [("NOT_FOUND", "taskId")]
    assert (await world.other(CHECKLIST, partnerId=gid("Partner", world.partner)))["data"] == {
        "onboardingChecklist": None
    }
    own = (await world.other(CHECKLIST))["data"]["onboardingChecklist"]
    assert (own["totalCount"], own["complete"], own["items"]) == (0, False, [])
    assert (await world.other(TASKS, programId=gid("ChannelProgram", world.program)))["data"][
        "onboardingTasks"
    ]["totalCount"] == 0
    assert (await world.rep(TASKS, programId=gid("ChannelProgram", world.program)))["data"][
        "onboardingTasks"
    ]["totalCount"] == 1

    assert error_codes(await world.rep(SUBMIT, taskId=task, response="x")) == ["FORBIDDEN"]
    assert error_codes(await world.me(REVIEW, id=item, approve=True)) == ["FORBIDDEN"]
    assert error_codes(await world.manager(REVIEW, id=item, approve=True)) == ["FORBIDDEN"]
    assert error_codes(await world.me(REVIEWS)) == ["FORBIDDEN"]
    assert (await world.manager(REVIEWS))["data"]["onboardingReviews"]["totalCount"] == 1
    staff = (await world.manager(CHECKLIST, partnerId=gid("Partner", world.partner)))["data"]
    assert staff["onboardingChecklist"]["items"][0]["status"] == "SUBMITTED"
    assert error_codes(await world.admin(CHECKLIST)) == ["INVALID"]

    # Another tenant's admin knows every id and still finds nothing.
    elsewhere = await make_tenant(database)
    intruder = Caller(client, app, elsewhere.admin)
    for arguments in ({"id": item}, {"partnerId": gid("Partner", world.partner), "taskId": task}):
        payload = await review(intruder, approve=True, **arguments)
        assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]
    created = await intruder(CREATE_TASK, input={"programId": gid("ChannelProgram", world.program),
                                                 "name": "x", "kind": "OTHER"})  # fmt: skip
    assert [e["code"] for e in created["data"]["createOnboardingTask"]["errors"]] == ["NOT_FOUND"]
    deleted = await intruder(DELETE_TASK, id=task)
    assert [e["code"] for e in deleted["data"]["deleteOnboardingTask"]["errors"]] == ["NOT_FOUND"]
    assert (await intruder(CHECKLIST, partnerId=gid("Partner", world.partner)))["data"][
        "onboardingChecklist"
    ] is None
    assert (await intruder(REVIEWS))["data"]["onboardingReviews"]["totalCount"] == 0
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ONBOARDING
    assert await row_count(database, world.tenant, OnboardingTask) == 1


async def test_bad_input_writes_nothing(
    database: Database, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = await make_world(database, client, app)
    program = gid("ChannelProgram", world.program)
    operations = await audit_operations(database, world.tenant)
    for fields, expected in (
        ({"name": "  ", "kind": "OTHER"}, ("INVALID", "name")),
        ({"name": "x" * 201, "kind": "OTHER"}, ("INVALID", "name")),
        ({"name": "x", "kind": "PROFILE", "certification": "C"}, ("INVALID", "certification")),
        ({"name": "x", "kind": "OTHER", "position": -1}, ("INVALID", "position")),
        ({"name": "x", "kind": "OTHER", "programId": "garbage"}, ("NOT_FOUND", "programId")),
    ):
        body = await world.admin(CREATE_TASK, input={"programId": program, **fields})
        errors = body["data"]["createOnboardingTask"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [expected], fields
    assert await row_count(database, world.tenant, OnboardingTask) == 0

    agreement = await add_task(world, "Agreement", "AGREEMENT")
    plan = await add_task(world, "Plan", "BUSINESS_PLAN")
    duplicate = await world.admin(CREATE_TASK, input={"programId": program, "name": "Plan",
                                                      "kind": "OTHER"})  # fmt: skip
    assert [e["code"] for e in duplicate["data"]["createOnboardingTask"]["errors"]] == ["DUPLICATE"]
    for task_id in (agreement, plan):
        for response in (None, "", "   "):
            payload = await submit(world.me, task_id, response)
            assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID", "response")]
    not_submitted = await review(world.admin, partnerId=gid("Partner", world.partner),
                                 taskId=agreement, approve=True)  # fmt: skip
    assert [e["code"] for e in not_submitted["errors"]] == ["INVALID_TRANSITION"]
    nulled = await world.admin(UPDATE_TASK, id=plan, input={"name": None})
    assert [e["field"] for e in nulled["data"]["updateOnboardingTask"]["errors"]] == ["name"]
    wrong = await world.admin(UPDATE_TASK, id=plan, input={"certification": "C"})
    assert [e["field"] for e in wrong["data"]["updateOnboardingTask"]["errors"]] == [
        "certification"
    ]
    assert await row_count(database, world.tenant, PartnerOnboardingTask) == 0
    assert await notifications(database, world.partner) == []
    after = await audit_operations(database, world.tenant)
    assert after[len(operations) :] == ["createOnboardingTask", "createOnboardingTask"]
    tasks = (await world.admin(TASKS, programId=program))["data"]["onboardingTasks"]
    assert [edge["node"]["name"] for edge in tasks["edges"]] == ["Agreement", "Plan"]


async def test_no_checklist_no_activation_and_deleting_the_last_open_task_activates(
    database: Database, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = await make_world(database, client, app)
    # The stranger is enrolled in a program without tasks: nothing to complete, no activation.
    empty, level = await make_enrolled_program(database, world.tenant.id, world.stranger.id)
    assert await activate_onboarded_partners_now(database, world) == []
    assert (await partner_row(database, world.stranger)).status is PartnerStatus.ONBOARDING

    done = await add_task(world, "Profile", "PROFILE", requiresApproval=False)
    blocking = await add_task(world, "Agreement", "AGREEMENT")
    await submit(world.me, done)
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ONBOARDING
    renamed = await world.admin(UPDATE_TASK, id=blocking, input={"name": "MSA", "position": 5})
    assert renamed["data"]["updateOnboardingTask"]["onboardingTask"]["name"] == "MSA"
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ONBOARDING

    deleted = await world.admin(DELETE_TASK, id=blocking)
    assert deleted["data"]["deleteOnboardingTask"] == {"deletedId": blocking, "errors": []}
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ACTIVE
    assert (await partner_row(database, world.stranger)).status is PartnerStatus.ONBOARDING
    assert [kind for kind, _ in await notifications(database, world.partner)] == [
        "onboarding.completed"
    ]
    # A second enrolment brings new tasks: an ACTIVE partner stays ACTIVE.
    await enrol(database, world.tenant.id, program_id=empty.id, partner_id=world.partner.id,
                level_id=level.id)  # fmt: skip
    await add_task(world, "Extra", "OTHER", program=empty)
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ACTIVE


async def test_reviews_page_oldest_first_in_constant_statements(
    database: Database, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = await make_world(database, client, app)
    partners = [world.partner]
    admins = [world.me]
    for _ in range(4):
        partner = await make_partner(database, world.tenant.id, status=PartnerStatus.ONBOARDING)
        user = await make_user(
            database, world.tenant.id, roles=(Role.PARTNER_ADMIN,), partner_id=partner.id
        )
        await enrol(database, world.tenant.id, program_id=world.program.id,
                    partner_id=partner.id, level_id=world.level.id)  # fmt: skip
        partners.append(partner)
        admins.append(Caller(client, app, user))
    task = await add_task(world, "Plan", "BUSINESS_PLAN")
    for number, caller in enumerate(admins):
        assert (await submit(caller, task, f"plan {number}"))["errors"] == []

    page = (await world.admin(REVIEWS, first=3))["data"]["onboardingReviews"]
    assert [edge["node"]["response"] for edge in page["edges"]] == ["plan 0", "plan 1", "plan 2"]
    assert page["totalCount"] == 5
    assert page["pageInfo"]["hasNextPage"] is True
    rest = (await world.admin(REVIEWS, first=3, after=page["pageInfo"]["endCursor"]))["data"]
    assert [edge["node"]["response"] for edge in rest["onboardingReviews"]["edges"]] == [
        "plan 3", "plan 4"
    ]  # fmt: skip
    assert [e["node"]["partner"]["id"] for e in page["edges"]] == [
        gid("Partner", p) for p in partners[:3]
    ]

    counts = {}
    for size in (1, 5):
        with counting_statements(database) as statements:
            body = await world.admin(REVIEWS, first=size)
        assert len(body["data"]["onboardingReviews"]["edges"]) == size
        counts[size] = len(statements)
    assert counts[1] == counts[5]


async def test_concurrent_last_approvals_activate_exactly_once(
    database: Database, client: httpx.AsyncClient, app: FastAPI
) -> None:
    world = await make_world(database, client, app)
    second_admin = Caller(client, app, await make_user(database, world.tenant.id,
                                                       roles=(Role.ADMIN,)))  # fmt: skip
    first = await add_task(world, "Agreement", "AGREEMENT")
    second = await add_task(world, "Plan", "BUSINESS_PLAN")
    items = [
        (await submit(world.me, first, "v1"))["onboardingItem"]["id"],
        (await submit(world.me, second, "plan"))["onboardingItem"]["id"],
    ]
    payloads = await asyncio.gather(
        review(world.admin, id=items[0], approve=True),
        review(second_admin, id=items[1], approve=True),
    )
    assert [payload["errors"] for payload in payloads] == [[], []]
    assert (await partner_row(database, world.partner)).status is PartnerStatus.ACTIVE
    kinds = [kind for kind, _ in await notifications(database, world.partner)]
    assert sorted(kinds) == ["onboarding.completed", "onboarding.task_reviewed",
                             "onboarding.task_reviewed"]  # fmt: skip
