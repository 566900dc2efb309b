"""The leads API over HTTP: capture, routing, offers, the pool, working and converting,
rules, scoring and who sees what. Failed mutations write nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from prm.auth.principal import Role
from prm.db.engine import Database
from prm.graphql.relay import encode_global_id
from prm.leads.models import DistributionMode, Lead, LeadStatus
from prm.tenants.models import User
from tests.factories import bearer, make_tenant, make_user, unique
from tests.graphql.support import error_codes, gql
from tests.leads.factories import make_lead, make_rule, make_territory_partner

LEAD_FIELDS = """id status companyName email phone country region postalCode score
  productInterest estimatedValue { amount currency } partner { id } owner { id }
  history { kind fromStatus toStatus note actor { id } partner { id } }"""
CREATE = f"""mutation ($input: CreateLeadInput!) {{
  createLead(input: $input) {{ lead {{ {LEAD_FIELDS} offers {{ id status partner {{ id }} }} }}
    errors {{ code field message existingId }} }} }}"""
ACCEPT = """mutation ($id: ID!) { acceptLeadOffer(id: $id) {
  leadOffer { id status respondedAt } lead { id status partner { id } } errors { code field } } }"""
REJECT = """mutation ($id: ID!, $reason: String!) { rejectLeadOffer(id: $id, reason: $reason) {
  leadOffer { id status rejectReason } lead { id status offers { partner { id } status } }
  errors { code field } } }"""
CLAIM = """mutation ($id: ID!) { claimLead(id: $id) {
  lead { id status partner { id } } errors { code field message } } }"""
STATUS = """mutation ($id: ID!, $status: LeadStatus!, $note: String) {
  updateLeadStatus(id: $id, status: $status, note: $note) {
    lead { id status history { kind note } } errors { code field } } }"""
LEADS = """query ($filter: LeadFilter) { leads(filter: $filter) {
  totalCount edges { node { id status } } } }"""
OFFERS = """query ($filter: LeadOfferFilter) { leadOffers(filter: $filter) {
  totalCount edges { node { id status lead { id } partner { id } } } } }"""
POOL = "{ leadPool { totalCount edges { node { id status } } } }"


def gid(type_name: str, pk: uuid.UUID) -> str:
    return encode_global_id(type_name, pk)


def headers(app: FastAPI, user: User) -> dict[str, str]:
    return bearer(app.state.issuer, user)


async def partner_user(
    database: Database, tenant_id: uuid.UUID, partner_id: uuid.UUID, role: Role = Role.PARTNER_REP
) -> User:
    return await make_user(database, tenant_id, roles=(role,), partner_id=partner_id)


async def offer_of(database: Database, tenant_id: uuid.UUID, lead_id: uuid.UUID) -> Any:
    from prm.leads.models import LeadOffer, OfferStatus

    async with database.session(tenant_id) as session:
        return await session.scalar(
            select(LeadOffer).where(
                LeadOffer.lead_id == lead_id, LeadOffer.status == OfferStatus.PENDING
            )
        )


async def lead_count(database: Database, tenant_id: uuid.UUID) -> int:
    async with database.session(tenant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(Lead)) or 0)


# Capture -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_create_lead_normalises_routes_and_records_history(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id, country="US")
    await make_rule(database, tenant.id)
    body = await gql(
        client,
        CREATE,
        {
            "input": {
                "companyName": "  Acme Widgets Inc. ",
                "email": "Jane.Doe@ACME-widgets.example",
                "phone": "(415) 555-2671",
                "country": "United States",
                "region": "california",
                "postalCode": "94107",
                "productInterest": ["Cloud", "cloud", " Security "],
                "estimatedValue": {"amount": "12500.50", "currency": "usd"},
            }
        },
        headers=headers(app, tenant.admin),
    )
    result = body["data"]["createLead"]
    assert result["errors"] == []
    lead = result["lead"]
    assert lead["companyName"] == "Acme Widgets Inc."
    assert lead["email"] == "jane.doe@acme-widgets.example"
    assert lead["phone"] == "+14155552671"
    assert (lead["country"], lead["region"], lead["postalCode"]) == ("US", "CA", "94107")
    assert lead["productInterest"] == ["cloud", "security"]
    assert lead["estimatedValue"] == {"amount": "12500.50", "currency": "USD"}
    assert lead["status"] == "OFFERED"
    assert lead["partner"] is None
    assert [o["partner"]["id"] for o in lead["offers"]] == [gid("Partner", partner.id)]
    assert [(e["kind"], e["fromStatus"], e["toStatus"]) for e in lead["history"]] == [
        ("CREATED", None, "NEW"),
        ("OFFERED", "NEW", "OFFERED"),
    ]
    assert lead["history"][0]["actor"]["id"] == gid("User", tenant.admin.id)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"companyName": "  "}, "companyName"),
        ({"email": "not-an-email"}, "email"),
        ({"country": "Atlantis"}, "country"),
        ({"phone": "12", "country": "US"}, "phone"),
        ({"estimatedValue": {"amount": "-1", "currency": "USD"}}, "estimatedValue.amount"),
        ({"estimatedValue": {"amount": "1", "currency": "XXZ"}}, "estimatedValue.currency"),
    ],
)
async def test_create_lead_rejects_bad_input_and_writes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    database: Database,
    fields: dict[str, Any],
    field: str,
) -> None:
    tenant = await make_tenant(database)
    body = await gql(
        client,
        CREATE,
        {"input": {"companyName": "Fine Co"} | fields},
        headers=headers(app, tenant.admin),
    )
    result = body["data"]["createLead"]
    assert result["lead"] is None
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID", field)]
    assert await lead_count(database, tenant.id) == 0


@pytest.mark.asyncio
async def test_duplicates_name_the_existing_record_unless_allowed(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    auth = headers(app, tenant.admin)
    first = await make_lead(database, tenant.id, company_name="Globex", email="a@globex.example")
    same_email = await gql(
        client,
        CREATE,
        {"input": {"companyName": "Other", "email": "A@Globex.example"}},
        headers=auth,
    )
    error = same_email["data"]["createLead"]["errors"][0]
    assert (error["code"], error["existingId"]) == ("DUPLICATE", gid("Lead", first.id))
    same_company = await gql(
        client,
        CREATE,
        {"input": {"companyName": "Globex Ltd", "email": "b@globex.example"}},
        headers=auth,
    )
    assert same_company["data"]["createLead"]["errors"][0]["existingId"] == gid("Lead", first.id)
    allowed = await gql(
        client,
        CREATE,
        {"input": {"companyName": "Globex", "email": "a@globex.example", "allowDuplicate": True}},
        headers=auth,
    )
    assert allowed["data"]["createLead"]["errors"] == []
    assert await lead_count(database, tenant.id) == 2


@pytest.mark.asyncio
async def test_partner_users_cannot_capture_leads(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id)
    rep = await partner_user(database, tenant.id, partner.id)
    body = await gql(client, CREATE, {"input": {"companyName": "X"}}, headers=headers(app, rep))
    assert error_codes(body) == ["FORBIDDEN"]


# Offers --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_only_the_offered_partner_sees_and_accepts_an_offer(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    offered = await make_territory_partner(database, tenant.id)
    await make_rule(database, tenant.id)
    lead = await make_lead(database, tenant.id)
    other = await make_territory_partner(database, tenant.id)
    mine = await partner_user(database, tenant.id, offered.id)
    theirs = await partner_user(database, tenant.id, other.id)
    offer = await offer_of(database, tenant.id, lead.id)
    offer_id = gid("LeadOffer", offer.id)

    seen = await gql(client, OFFERS, {"filter": {"status": "PENDING"}}, headers=headers(app, mine))
    assert [e["node"]["id"] for e in seen["data"]["leadOffers"]["edges"]] == [offer_id]
    unseen = await gql(client, OFFERS, None, headers=headers(app, theirs))
    assert unseen["data"]["leadOffers"]["totalCount"] == 0
    node = await gql(
        client, "query ($id: ID!) { node(id: $id) { id } }", {"id": offer_id},
        headers=headers(app, theirs),
    )  # fmt: skip
    assert node["data"]["node"] is None

    wrong = await gql(client, ACCEPT, {"id": offer_id}, headers=headers(app, theirs))
    assert wrong["data"]["acceptLeadOffer"]["errors"] == [{"code": "NOT_FOUND", "field": "id"}]
    staff = await gql(client, ACCEPT, {"id": offer_id}, headers=headers(app, tenant.admin))
    assert error_codes(staff) == ["FORBIDDEN"]

    accepted = await gql(client, ACCEPT, {"id": offer_id}, headers=headers(app, mine))
    result = accepted["data"]["acceptLeadOffer"]
    assert result["errors"] == []
    assert result["leadOffer"]["status"] == "ACCEPTED"
    assert result["lead"]["status"] == "ACCEPTED"
    assert result["lead"]["partner"]["id"] == gid("Partner", offered.id)
    again = await gql(client, ACCEPT, {"id": offer_id}, headers=headers(app, mine))
    assert again["data"]["acceptLeadOffer"]["errors"][0]["code"] == "INVALID_TRANSITION"


@pytest.mark.asyncio
async def test_rejecting_needs_a_reason_and_moves_the_lead_on_then_to_unroutable(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    first = await make_territory_partner(database, tenant.id)
    second = await make_territory_partner(database, tenant.id)
    await make_rule(database, tenant.id)
    lead = await make_lead(database, tenant.id)
    users = {
        first.id: await partner_user(database, tenant.id, first.id),
        second.id: await partner_user(database, tenant.id, second.id),
    }
    offer = await offer_of(database, tenant.id, lead.id)
    blank = await gql(
        client, REJECT, {"id": gid("LeadOffer", offer.id), "reason": "  "},
        headers=headers(app, users[offer.partner_id]),
    )  # fmt: skip
    assert blank["data"]["rejectLeadOffer"]["errors"] == [{"code": "INVALID", "field": "reason"}]

    rejected = await gql(
        client, REJECT, {"id": gid("LeadOffer", offer.id), "reason": "no capacity in Q4"},
        headers=headers(app, users[offer.partner_id]),
    )  # fmt: skip
    result = rejected["data"]["rejectLeadOffer"]
    assert result["leadOffer"] == {
        "id": gid("LeadOffer", offer.id), "status": "REJECTED", "rejectReason": "no capacity in Q4"
    }  # fmt: skip
    assert result["lead"]["status"] == "OFFERED"
    nxt = await offer_of(database, tenant.id, lead.id)
    assert {nxt.partner_id, offer.partner_id} == {first.id, second.id}

    await gql(
        client, REJECT, {"id": gid("LeadOffer", nxt.id), "reason": "not our market"},
        headers=headers(app, users[nxt.partner_id]),
    )  # fmt: skip
    queue = await gql(
        client, LEADS, {"filter": {"status": "UNROUTABLE"}}, headers=headers(app, tenant.admin)
    )
    assert [e["node"]["id"] for e in queue["data"]["leads"]["edges"]] == [gid("Lead", lead.id)]


@pytest.mark.asyncio
async def test_unknown_and_malformed_ids_are_not_found(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    partner = await make_territory_partner(database, tenant.id)
    rep = await partner_user(database, tenant.id, partner.id)
    other_tenant = await make_tenant(database)
    foreign = await make_lead(database, other_tenant.id)
    for variables in ({"id": "garbage"}, {"id": gid("Lead", uuid.uuid4())}):
        body = await gql(client, ACCEPT, variables, headers=headers(app, rep))
        assert body["data"]["acceptLeadOffer"]["errors"][0]["code"] == "NOT_FOUND"
    for lead_id in (gid("Lead", uuid.uuid4()), gid("Lead", foreign.id)):
        body = await gql(client, CLAIM, {"id": lead_id}, headers=headers(app, rep))
        assert body["data"]["claimLead"]["errors"][0]["code"] == "NOT_FOUND"
        body = await gql(
            client, STATUS, {"id": lead_id, "status": "LOST"}, headers=headers(app, tenant.admin)
        )
        assert body["data"]["updateLeadStatus"]["errors"][0]["code"] == "NOT_FOUND"


# The pool ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_twenty_concurrent_http_claims_have_exactly_one_winner(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id, mode=DistributionMode.POOL)
    partners = [await make_territory_partner(database, tenant.id) for _ in range(10)]
    users = [await partner_user(database, tenant.id, p.id) for p in partners for _ in range(2)]
    for _ in range(3):
        lead = await make_lead(database, tenant.id)
        assert lead.status is LeadStatus.POOLED
        bodies = await asyncio.gather(
            *(
                gql(client, CLAIM, {"id": gid("Lead", lead.id)}, headers=headers(app, u))
                for u in users
            )
        )
        outcomes = Counter(
            "WON" if not b["data"]["claimLead"]["errors"] else b["data"]["claimLead"]["errors"][0]["code"]
            for b in bodies
        )  # fmt: skip
        assert outcomes == Counter({"WON": 1, "ALREADY_CLAIMED": 19})


@pytest.mark.asyncio
async def test_claims_answer_not_eligible_limit_exceeded_and_invalid_transition(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    await make_rule(database, tenant.id, mode=DistributionMode.POOL, capabilities=["cloud"])
    full = await make_territory_partner(database, tenant.id, capabilities=("cloud",), capacity=1)
    outsider = await make_territory_partner(database, tenant.id, country="DE")
    full_rep = await partner_user(database, tenant.id, full.id)
    outsider_rep = await partner_user(database, tenant.id, outsider.id)
    first = await make_lead(database, tenant.id)
    second = await make_lead(database, tenant.id)

    pool = await gql(client, POOL, headers=headers(app, full_rep))
    assert pool["data"]["leadPool"]["totalCount"] == 2
    assert (await gql(client, POOL, headers=headers(app, outsider_rep)))["data"]["leadPool"][
        "totalCount"
    ] == 0

    won = await gql(client, CLAIM, {"id": gid("Lead", first.id)}, headers=headers(app, full_rep))
    assert won["data"]["claimLead"]["lead"]["status"] == "ACCEPTED"
    codes = {}
    for name, lead_id, user in [
        ("full", second.id, full_rep),
        ("outsider", second.id, outsider_rep),
        ("again", first.id, full_rep),
    ]:
        body = await gql(client, CLAIM, {"id": gid("Lead", lead_id)}, headers=headers(app, user))
        codes[name] = body["data"]["claimLead"]["errors"][0]["code"]
    assert codes == {
        "full": "LIMIT_EXCEEDED",
        "outsider": "NOT_ELIGIBLE",
        "again": "ALREADY_CLAIMED",
    }

    third = await make_territory_partner(database, tenant.id)
    third_rep = await partner_user(database, tenant.id, third.id)
    await make_rule(database, tenant.id, priority=0)  # offers (to `third`) win from now on
    offered = await make_lead(database, tenant.id)
    assert offered.status is LeadStatus.OFFERED
    for user, code in [(third_rep, "INVALID_TRANSITION"), (outsider_rep, "NOT_FOUND")]:
        body = await gql(client, CLAIM, {"id": gid("Lead", offered.id)}, headers=headers(app, user))
        assert body["data"]["claimLead"]["errors"][0]["code"] == code


# Working the lead ----------------------------------------------------------------------


async def held_lead(database: Database, tenant_id: uuid.UUID) -> tuple[Lead, User, uuid.UUID]:
    """A lead claimed from the pool by a fresh partner, and that partner's admin."""
    from prm.leads import pool
    from tests.factories import principal_of
    from tests.leads.factories import run

    partner = await make_territory_partner(database, tenant_id)
    await make_rule(database, tenant_id, mode=DistributionMode.POOL)
    admin = await partner_user(database, tenant_id, partner.id, Role.PARTNER_ADMIN)
    lead = await make_lead(
        database, tenant_id, company_name=unique("Initech"), email=f"{unique('bob')}@initech.example",
        contact_name="Bob Slydell", phone="+14155552671",
    )  # fmt: skip
    claimed = await run(database, tenant_id, pool.claim_lead, principal_of(admin), lead.id)
    return claimed, admin, partner.id


@pytest.mark.asyncio
async def test_status_transitions_follow_the_lifecycle(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    lead, admin, _ = await held_lead(database, tenant.id)
    auth = headers(app, admin)
    lead_id = gid("Lead", lead.id)

    async def move(status: str) -> list[dict[str, Any]]:
        body = await gql(
            client, STATUS, {"id": lead_id, "status": status, "note": "x"}, headers=auth
        )
        errors: list[dict[str, Any]] = body["data"]["updateLeadStatus"]["errors"]
        return errors

    assert await move("QUALIFIED") == [{"code": "INVALID_TRANSITION", "field": "status"}]
    assert await move("CONVERTED") == [{"code": "INVALID_TRANSITION", "field": "status"}]
    assert await move("WORKING") == []
    assert await move("WORKING") == [{"code": "INVALID_TRANSITION", "field": "status"}]
    assert await move("QUALIFIED") == []
    assert await move("LOST") == []
    assert await move("WORKING") == [{"code": "INVALID_TRANSITION", "field": "status"}]
    body = await gql(client, LEADS, {"filter": {"status": "LOST"}}, headers=auth)
    assert body["data"]["leads"]["totalCount"] == 1


@pytest.mark.asyncio
async def test_assign_lead_to_a_rep_of_the_holding_partner(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    lead, admin, partner_id = await held_lead(database, tenant.id)
    rep = await partner_user(database, tenant.id, partner_id)
    stranger = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    assign = """mutation ($id: ID!, $userId: ID!) { assignLead(id: $id, userId: $userId) {
      lead { owner { id } history { kind } } errors { code field } } }"""
    ok = await gql(
        client, assign, {"id": gid("Lead", lead.id), "userId": gid("User", rep.id)},
        headers=headers(app, admin),
    )  # fmt: skip
    assert ok["data"]["assignLead"]["lead"]["owner"] == {"id": gid("User", rep.id)}
    assert ok["data"]["assignLead"]["lead"]["history"][-1]["kind"] == "ASSIGNED"
    bad = await gql(
        client, assign, {"id": gid("Lead", lead.id), "userId": gid("User", stranger.id)},
        headers=headers(app, tenant.admin),
    )  # fmt: skip
    assert bad["data"]["assignLead"]["errors"] == [{"code": "NOT_ELIGIBLE", "field": "userId"}]
    forbidden = await gql(
        client, assign, {"id": gid("Lead", lead.id), "userId": gid("User", rep.id)},
        headers=headers(app, rep),
    )  # fmt: skip
    assert error_codes(forbidden) == ["FORBIDDEN"]


CONVERT = """mutation ($id: ID!, $input: ConvertLeadInput!) { convertLead(id: $id, input: $input) {
  lead { id status opportunity { id } }
  account { id name } contact { id email } opportunity { id name amount { amount currency }
    partner { id } }
  errors { code field } } }"""


@pytest.mark.asyncio
async def test_convert_lead_creates_account_contact_and_opportunity_with_the_partner(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    lead, admin, partner_id = await held_lead(database, tenant.id)
    auth = headers(app, admin)
    lead_id = gid("Lead", lead.id)
    variables = {
        "id": lead_id,
        "input": {
            "opportunityName": "Initech renewal",
            "amount": {"amount": "900", "currency": "EUR"},
        },
    }
    await gql(client, STATUS, {"id": lead_id, "status": "WORKING"}, headers=auth)
    body = await gql(client, CONVERT, variables, headers=auth)
    result = body["data"]["convertLead"]
    assert result["errors"] == []
    assert result["lead"]["status"] == "CONVERTED"
    assert result["lead"]["opportunity"]["id"] == result["opportunity"]["id"]
    assert result["account"]["name"] == lead.company_name
    assert result["contact"]["email"] == lead.email
    assert result["opportunity"]["amount"] == {"amount": "900.00", "currency": "EUR"}
    assert result["opportunity"]["partner"]["id"] == gid("Partner", partner_id)
    again = await gql(client, CONVERT, variables, headers=auth)
    assert again["data"]["convertLead"]["errors"][0]["code"] == "INVALID_TRANSITION"


@pytest.mark.asyncio
async def test_a_lead_not_held_by_a_partner_cannot_be_converted(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    lead, admin, _ = await held_lead(database, tenant.id)
    auth = headers(app, admin)
    lead_id = gid("Lead", lead.id)
    await gql(client, STATUS, {"id": lead_id, "status": "LOST"}, headers=auth)
    body = await gql(
        client, CONVERT, {"id": lead_id, "input": {"opportunityName": "Too late"}}, headers=auth
    )
    assert body["data"]["convertLead"]["errors"] == [{"code": "INVALID_TRANSITION", "field": "id"}]


# Rules and scoring ---------------------------------------------------------------------

RULE = """mutation ($input: CreateDistributionRuleInput!) { createDistributionRule(input: $input) {
  distributionRule { id name priority mode strategy countries postalPrefixes capabilities
    offerSlaHours active } errors { code field } } }"""


@pytest.mark.asyncio
async def test_distribution_rules_are_managed_by_admins_and_validated(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    auth = headers(app, tenant.admin)
    created = await gql(
        client, RULE,
        {"input": {"name": "US west", "priority": 1, "mode": "OFFER", "strategy": "WEIGHTED",
                   "countries": ["us", "Canada"], "postalPrefixes": ["94 1"],
                   "capabilities": ["Cloud"], "offerSlaHours": 24}},
        headers=auth,
    )  # fmt: skip
    rule = created["data"]["createDistributionRule"]["distributionRule"]
    assert rule["countries"] == ["CA", "US"]
    assert (rule["postalPrefixes"], rule["capabilities"]) == (["941"], ["cloud"])
    for bad, field in [
        ({"countries": ["Narnia"]}, "countries"),
        ({"offerSlaHours": 0}, "offerSlaHours"),
        ({"minLeadScore": 101}, "minLeadScore"),
        ({"name": "US west"}, "name"),
    ]:
        body = await gql(
            client, RULE, {"input": {"name": "x", "priority": 2, "mode": "POOL"} | bad},
            headers=auth,
        )  # fmt: skip
        assert body["data"]["createDistributionRule"]["errors"][0]["field"] == field
    by_manager = await gql(
        client, RULE, {"input": {"name": "m", "priority": 2, "mode": "POOL"}},
        headers=headers(app, manager),
    )  # fmt: skip
    assert error_codes(by_manager) == ["FORBIDDEN"]
    update = """mutation ($id: ID!, $input: UpdateDistributionRuleInput!) {
      updateDistributionRule(id: $id, input: $input) { distributionRule { active priority }
      errors { code } } }"""
    updated = await gql(
        client, update, {"id": rule["id"], "input": {"active": False, "priority": 7}}, headers=auth
    )
    assert updated["data"]["updateDistributionRule"]["distributionRule"] == {
        "active": False, "priority": 7
    }  # fmt: skip
    listed = await gql(
        client, "{ distributionRules { totalCount edges { node { id } } } }",
        headers=headers(app, manager),
    )  # fmt: skip
    assert listed["data"]["distributionRules"]["totalCount"] == 1
    delete = """mutation ($id: ID!) { deleteDistributionRule(id: $id) { errors { code } } }"""
    assert (await gql(client, delete, {"id": rule["id"]}, headers=auth))["data"][
        "deleteDistributionRule"
    ]["errors"] == []
    gone = await gql(client, delete, {"id": rule["id"]}, headers=auth)
    assert gone["data"]["deleteDistributionRule"]["errors"] == [{"code": "NOT_FOUND"}]


@pytest.mark.asyncio
async def test_scoring_rules_score_leads_and_rescore_open_ones(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    auth = headers(app, tenant.admin)
    existing = await make_lead(database, tenant.id, country="DE", industry="Software")
    set_rules = """mutation ($rules: [LeadScoringRuleInput!]!) { setLeadScoringRules(rules: $rules) {
      rules { criterion points values minValue { amount currency } maxPoints } errors { code field } } }"""
    rules = [
        {"criterion": "COUNTRY", "points": 30, "values": ["Germany"]},
        {"criterion": "INDUSTRY", "points": 25, "values": ["software"]},
        {"criterion": "PRODUCT_INTEREST", "points": 20, "values": ["cloud"]},
        {
            "criterion": "MIN_ESTIMATED_VALUE",
            "points": 40,
            "minValue": {"amount": "10000", "currency": "EUR"},
        },
        {"criterion": "ENGAGEMENT", "points": 5, "maxPoints": 20},
    ]
    body = await gql(client, set_rules, {"rules": rules}, headers=auth)
    assert body["data"]["setLeadScoringRules"]["errors"] == []
    assert body["data"]["setLeadScoringRules"]["rules"][0]["values"] == ["DE"]
    read = await gql(client, "{ leadScoringRules { criterion } }", headers=auth)
    assert len(read["data"]["leadScoringRules"]) == 5
    node = await gql(
        client, "query ($id: ID!) { node(id: $id) { ... on Lead { score } } }",
        {"id": gid("Lead", existing.id)}, headers=auth,
    )  # fmt: skip
    assert node["data"]["node"]["score"] == 55
    created = await gql(
        client, CREATE,
        {"input": {"companyName": "Big Deal GmbH", "country": "DE", "industry": "Software",
                   "productInterest": ["cloud"], "estimatedValue": {"amount": "20000", "currency": "EUR"}}},
        headers=auth,
    )  # fmt: skip
    assert created["data"]["createLead"]["lead"]["score"] == 100
    bad = await gql(
        client, set_rules, {"rules": [{"criterion": "COUNTRY", "points": 500, "values": ["DE"]}]},
        headers=auth,
    )  # fmt: skip
    assert bad["data"]["setLeadScoringRules"]["errors"] == [
        {"code": "INVALID", "field": "rules[0].points"}
    ]
    assert len((await gql(client, "{ leadScoringRules { criterion } }", headers=auth))["data"][
        "leadScoringRules"
    ]) == 5  # fmt: skip


# Visibility ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_each_role_sees_the_leads_it_should(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    us = await make_territory_partner(database, tenant.id, country="US")
    de = await make_territory_partner(database, tenant.id, country="DE")
    await make_rule(database, tenant.id, countries=["US"])
    await make_rule(database, tenant.id, mode=DistributionMode.POOL, countries=["DE"], priority=20)
    offered = await make_lead(database, tenant.id, country="US")
    pooled = await make_lead(database, tenant.id, country="DE")
    unroutable = await make_lead(database, tenant.id, country="FR")
    viewers = {
        "admin": tenant.admin,
        "manager": await make_user(database, tenant.id, roles=(Role.MANAGER,)),
        "employee": await make_user(database, tenant.id, roles=(Role.EMPLOYEE,)),
        "us_rep": await partner_user(database, tenant.id, us.id),
        "de_admin": await partner_user(database, tenant.id, de.id, Role.PARTNER_ADMIN),
    }
    everything = {gid("Lead", lead.id) for lead in (offered, pooled, unroutable)}
    expected = {
        "admin": everything,
        "manager": everything,
        "employee": everything,
        "us_rep": {gid("Lead", offered.id)},
        "de_admin": {gid("Lead", pooled.id)},
    }
    for name, user in viewers.items():
        body = await gql(client, LEADS, None, headers=headers(app, user))
        assert {e["node"]["id"] for e in body["data"]["leads"]["edges"]} == expected[name], name
    hidden = await gql(
        client, "query ($id: ID!) { node(id: $id) { id } }", {"id": gid("Lead", unroutable.id)},
        headers=headers(app, viewers["us_rep"]),
    )  # fmt: skip
    assert hidden["data"]["node"] is None
    partner_leads = await gql(
        client, "query ($id: ID!) { node(id: $id) { ... on Partner { leads { totalCount } } } }",
        {"id": gid("Partner", us.id)}, headers=headers(app, tenant.admin),
    )  # fmt: skip
    assert partner_leads["data"]["node"]["leads"]["totalCount"] == 0


ROUTE = """mutation ($id: ID!) { routeLead(id: $id) {
  lead { id status offers { partner { id } } } errors { code field } } }"""


@pytest.mark.asyncio
async def test_route_lead_routes_an_unroutable_lead_again_for_managers_only(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    manager = await make_user(database, tenant.id, roles=(Role.MANAGER,))
    employee = await make_user(database, tenant.id, roles=(Role.EMPLOYEE,))
    await make_rule(database, tenant.id, countries=["GB"])
    lead = await make_lead(database, tenant.id, country="GB")
    assert lead.status is LeadStatus.UNROUTABLE
    partner = await make_territory_partner(database, tenant.id, country="GB")
    lead_id = gid("Lead", lead.id)
    assert error_codes(
        await gql(client, ROUTE, {"id": lead_id}, headers=headers(app, employee))
    ) == ["FORBIDDEN"]
    routed = await gql(client, ROUTE, {"id": lead_id}, headers=headers(app, manager))
    result = routed["data"]["routeLead"]
    assert result["lead"]["status"] == "OFFERED"
    assert result["lead"]["offers"] == [{"partner": {"id": gid("Partner", partner.id)}}]

    rep = await partner_user(database, tenant.id, partner.id)
    offer = await offer_of(database, tenant.id, lead.id)
    await gql(client, ACCEPT, {"id": gid("LeadOffer", offer.id)}, headers=headers(app, rep))
    held = await gql(client, ROUTE, {"id": lead_id}, headers=headers(app, manager))
    assert held["data"]["routeLead"]["errors"] == [{"code": "INVALID_TRANSITION", "field": "id"}]


@pytest.mark.asyncio
async def test_a_partner_reads_only_its_own_part_of_a_leads_history(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    first = await make_territory_partner(database, tenant.id)
    second = await make_territory_partner(database, tenant.id)
    await make_rule(database, tenant.id)
    lead = await make_lead(database, tenant.id)
    offer = await offer_of(database, tenant.id, lead.id)
    users = {
        first.id: await partner_user(database, tenant.id, first.id),
        second.id: await partner_user(database, tenant.id, second.id),
    }
    await gql(
        client, REJECT, {"id": gid("LeadOffer", offer.id), "reason": "secret reason"},
        headers=headers(app, users[offer.partner_id]),
    )  # fmt: skip
    nxt = await offer_of(database, tenant.id, lead.id)
    query = """query ($id: ID!) { node(id: $id) { ... on Lead {
      history { kind note } offers { id } } } }"""
    body = await gql(
        client, query, {"id": gid("Lead", lead.id)}, headers=headers(app, users[nxt.partner_id])
    )
    node = body["data"]["node"]
    assert [event["kind"] for event in node["history"]] == ["CREATED", "OFFERED"]
    assert node["offers"] == [{"id": gid("LeadOffer", nxt.id)}]
    staff = await gql(
        client, query, {"id": gid("Lead", lead.id)}, headers=headers(app, tenant.admin)
    )
    assert "secret reason" in [event["note"] for event in staff["data"]["node"]["history"]]


UPDATE_LEAD = """mutation ($id: ID!, $input: UpdateLeadInput!) { updateLead(id: $id, input: $input) {
  lead { id score phone country region history { kind note } } errors { code field } } }"""


@pytest.mark.asyncio
async def test_update_lead_revalidates_rescores_and_records_the_change(
    app: FastAPI, client: httpx.AsyncClient, database: Database
) -> None:
    tenant = await make_tenant(database)
    auth = headers(app, tenant.admin)
    await gql(
        client,
        """mutation { setLeadScoringRules(rules: [
          {criterion: COUNTRY, points: 35, values: ["CA"]}]) { errors { code } } }""",
        headers=auth,
    )
    lead = await make_lead(database, tenant.id, country="US", estimated_value=("100.5", "USD"))
    lead_id = gid("Lead", lead.id)
    bad = await gql(client, UPDATE_LEAD, {"id": lead_id, "input": {"phone": "nope"}}, headers=auth)
    assert bad["data"]["updateLead"]["errors"] == [{"code": "INVALID", "field": "phone"}]
    body = await gql(
        client, UPDATE_LEAD,
        {"id": lead_id, "input": {"country": "Canada", "region": "Ontario", "phone": "416 555 0100"}},
        headers=auth,
    )  # fmt: skip
    result = body["data"]["updateLead"]
    assert result["errors"] == []
    updated = result["lead"]
    assert (updated["country"], updated["region"], updated["phone"]) == ("CA", "ON", "+14165550100")
    assert updated["score"] == 35
    assert updated["history"][-1] == {"kind": "UPDATED", "note": "country, phone, region"}
