"""The hub's fan-out: tenants and types apart, partners only for their own events, the
pool's audience asked once per event for every subscriber, a slow subscriber dropped
without holding up the others."""

from __future__ import annotations

import json
import uuid

import pytest

from prm.realtime import hub as hub_module
from prm.realtime.hub import Hub, SubscriberOverflow
from prm.realtime.notices import Notice, parse_notice


def notice(
    tenant: uuid.UUID, type_: str, partners: tuple[uuid.UUID, ...] = (), **ids: str
) -> Notice:
    return Notice(
        id=uuid.uuid4().hex, tenant_id=tenant, type=type_, partner_ids=frozenset(partners), ids=ids
    )


@pytest.mark.asyncio
async def test_offers_reach_their_partner_and_staff_of_their_tenant_only() -> None:
    hub = Hub()
    tenant, other_tenant = uuid.uuid4(), uuid.uuid4()
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    offered = frozenset({"lead.offered"})
    async with (
        hub.subscription(tenant, mine, offered) as me,
        hub.subscription(tenant, theirs, offered) as them,
        hub.subscription(tenant, None, offered) as staff,
        hub.subscription(other_tenant, None, offered) as foreign_staff,
        hub.subscription(tenant, mine, frozenset({"offer.expiring"})) as other_type,
    ):
        sent = notice(tenant, "lead.offered", (mine,), offerId=str(uuid.uuid4()))
        await hub.dispatch(sent)
        assert await me.next(1) == sent
        assert await staff.next(1) == sent
        for silent in (them, foreign_staff, other_type):
            assert await silent.next(0.05) is None
    assert hub.subscriber_count == 0


@pytest.mark.asyncio
async def test_the_pool_audience_is_asked_once_for_all_partner_subscribers() -> None:
    calls: list[frozenset[uuid.UUID]] = []
    eligible, ineligible, also_eligible = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def audience(_: Notice, partners: frozenset[uuid.UUID]) -> frozenset[uuid.UUID]:
        calls.append(partners)
        return partners & {eligible, also_eligible}

    hub = Hub(audiences={"lead.pooled": audience})
    tenant = uuid.uuid4()
    types = frozenset({"lead.pooled"})
    async with (
        hub.subscription(tenant, eligible, types) as first,
        hub.subscription(tenant, eligible, types) as second_tab,
        hub.subscription(tenant, ineligible, types) as outsider,
        hub.subscription(tenant, also_eligible, types) as third,
    ):
        sent = notice(tenant, "lead.pooled", leadId=str(uuid.uuid4()))
        await hub.dispatch(sent)
        assert calls == [frozenset({eligible, ineligible, also_eligible})]
        for hearing in (first, second_tab, third):
            assert await hearing.next(1) == sent
        assert await outsider.next(0.05) is None


@pytest.mark.asyncio
async def test_a_failing_audience_tells_no_partner() -> None:
    async def broken(_: Notice, __: frozenset[uuid.UUID]) -> frozenset[uuid.UUID]:
        raise RuntimeError("database down")

    hub = Hub(audiences={"lead.pooled": broken})
    tenant, partner = uuid.uuid4(), uuid.uuid4()
    async with hub.subscription(tenant, partner, frozenset({"lead.pooled"})) as sub:
        await hub.dispatch(notice(tenant, "lead.pooled", leadId=str(uuid.uuid4())))
        assert await sub.next(0.05) is None


@pytest.mark.asyncio
async def test_a_slow_subscriber_is_dropped_and_the_others_keep_hearing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hub_module, "QUEUE_SIZE", 3)
    hub = Hub()
    tenant = uuid.uuid4()
    types = frozenset({"lead.pooled"})
    async with (
        hub.subscription(tenant, None, types) as slow,
        hub.subscription(tenant, None, types) as quick,
    ):
        for index in range(5):
            sent = notice(tenant, "lead.pooled", leadId=str(index))
            await hub.dispatch(sent)
            assert await quick.next(1) == sent
        with pytest.raises(SubscriberOverflow):
            await slow.next(1)


def test_malformed_notifications_are_ignored() -> None:
    assert parse_notice("not json") is None
    assert parse_notice('{"id": "1", "tenant": "nope", "type": "lead.offered"}') is None
    tenant = uuid.uuid4()
    parsed = parse_notice(
        json.dumps(
            {
                "id": "1",
                "tenant": str(tenant),
                "type": "lead.pooled",
                "partners": [],
                "ids": {"leadId": "x"},
            }
        )
    )
    assert parsed is not None
    assert parsed.tenant_id == tenant
    assert parsed.pk("leadId") is None
