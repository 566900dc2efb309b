"""The sync engine (workers) reads what the async engine (API) reads: an open
opportunity's `close_date_key` ('infinity') loads as `date.max` on both."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from prm.crm.models import Opportunity
from prm.db.engine import Database
from tests.crm.factories import make_account, make_opportunity
from tests.factories import make_tenant


@pytest.mark.asyncio
async def test_an_open_opportunity_loads_on_both_engines(database: Database) -> None:
    tenant = await make_tenant(database)
    account = await make_account(database, tenant.id)
    opportunity = await make_opportunity(database, tenant.id, account_id=account.id)
    assert opportunity.close_date is None

    async with database.session(tenant.id) as session:
        by_api = await session.scalar(select(Opportunity).where(Opportunity.id == opportunity.id))
    with database.sync_session(tenant.id) as session:
        by_worker = session.scalar(select(Opportunity).where(Opportunity.id == opportunity.id))
    assert by_api is not None
    assert by_worker is not None
    assert by_api.close_date_key == by_worker.close_date_key == date.max
