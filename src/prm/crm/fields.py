"""Input cleaning and reference checks shared by the CRM services: one rule per kind of
field, so an account's country and a contact's email are judged the same everywhere."""

from __future__ import annotations

import uuid

import pycountry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from prm.auth.principal import Principal
from prm.crm.visibility import is_staff, own_partner
from prm.employees.models import Employee
from prm.errors import InvalidInput, NotFound
from prm.partners.models import Partner
from prm.tenants.service import EMAIL_PATTERN

MAX_NAME = 200
MAX_SHORT = 100
MAX_SUMMARY = 10_000


def required_text(value: str, *, field: str, max_length: int = MAX_NAME) -> str:
    """A trimmed, non-blank string of bounded length."""
    value = value.strip()
    if not value:
        raise InvalidInput("must not be blank", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"must be at most {max_length} characters", field=field)
    return value


def optional_text(value: str | None, *, field: str, max_length: int = MAX_SHORT) -> str | None:
    """A trimmed string of bounded length; blank means none."""
    if value is None or not value.strip():
        return None
    return required_text(value, field=field, max_length=max_length)


def country_code(value: str | None, *, field: str = "country") -> str | None:
    """An ISO 3166-1 alpha-2 code, upper-cased; blank means none."""
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise InvalidInput("must be an ISO 3166-1 alpha-2 country code", field=field)
    return code


def email_address(value: str | None, *, field: str = "email") -> str | None:
    """A syntactically valid address, trimmed (case kept; compared case-insensitively)."""
    if value is None or not value.strip():
        return None
    address = value.strip()
    if len(address) > 320 or not EMAIL_PATTERN.match(address):
        raise InvalidInput("is not a valid email address", field=field)
    return address


def like_pattern(search: str) -> str:
    """`%search%` with LIKE's wildcards escaped (use with `escape="\\\\"`)."""
    escaped = search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def require_employee(
    session: AsyncSession, principal: Principal, employee_id: uuid.UUID, *, field: str
) -> uuid.UUID:
    """An employee of the tenant that the principal may see (partner users see none)."""
    found = None
    if is_staff(principal):
        found = await session.scalar(
            select(Employee.id).where(
                Employee.tenant_id == principal.tenant_id, Employee.id == employee_id
            )
        )
    if found is None:
        raise NotFound("no such employee", field=field)
    return employee_id


async def partner_for_write(
    session: AsyncSession,
    principal: Principal,
    requested: uuid.UUID | None,
    *,
    field: str = "partnerId",
) -> uuid.UUID | None:
    """The partner a record created or changed by `principal` belongs to: what staff ask
    for (a partner of the tenant), and always the partner user's own organisation (another
    one is not found: partner users do not see other partners)."""
    partner = own_partner(principal)
    if partner is not None:
        if requested is not None and requested != partner:
            raise NotFound("no such partner", field=field)
        return partner
    if requested is None:
        return None
    found = await session.scalar(
        select(Partner.id).where(Partner.tenant_id == principal.tenant_id, Partner.id == requested)
    )
    if found is None:
        raise NotFound("no such partner", field=field)
    return requested
