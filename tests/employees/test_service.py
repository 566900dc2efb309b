"""Rules of the reporting line: a manager is in the tenant and the line never loops."""

from __future__ import annotations

import pytest

from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.employees.service import create_employee, update_employee
from prm.errors import Forbidden, InvalidInput, NotFound
from tests.factories import make_tenant, make_user, principal_of


@pytest.mark.asyncio
async def test_no_employee_manages_itself_directly_or_transitively(database: Database) -> None:
    made = await make_tenant(database)
    admin = Principal.system(made.id)
    async with database.session(made.id) as session:
        ceo = await create_employee(session, admin, name="CEO")
        vp = await create_employee(session, admin, name="VP", manager_id=ceo.id)
        rep = await create_employee(session, admin, name="Rep", manager_id=vp.id)

        for manager in (ceo, vp, rep):
            chain = {ceo.id: "itself", vp.id: "a report", rep.id: "a report's report"}
            with pytest.raises(InvalidInput) as refused:
                await update_employee(session, admin, ceo.id, {"manager_id": manager.id})
            assert refused.value.field == "managerId", chain[manager.id]

        # moving a report elsewhere in the line is fine, and so is clearing a manager
        other = await create_employee(session, admin, name="Other VP", manager_id=ceo.id)
        moved = await update_employee(session, admin, rep.id, {"manager_id": other.id})
        assert moved.manager_id == other.id
        cleared = await update_employee(session, admin, vp.id, {"manager_id": None})
        assert cleared.manager_id is None


@pytest.mark.asyncio
async def test_a_manager_from_another_tenant_is_not_found(database: Database) -> None:
    made = await make_tenant(database)
    other = await make_tenant(database)
    async with database.session(other.id) as session:
        theirs = await create_employee(session, Principal.system(other.id), name="Theirs")
    async with database.session(made.id) as session:
        with pytest.raises(NotFound):
            await create_employee(
                session, Principal.system(made.id), name="Mine", manager_id=theirs.id
            )


@pytest.mark.asyncio
async def test_only_an_admin_manages_employees(database: Database) -> None:
    made = await make_tenant(database)
    manager = await make_user(database, made.id)
    async with database.session(made.id) as session:
        with pytest.raises(Forbidden):
            await create_employee(session, principal_of(manager), name="Nope")
