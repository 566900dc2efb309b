"""The platform operator's tenant API: what `prm tenants create|list` does, over HTTP.

Authenticated by `PRM_PLATFORM_API_KEY` (`Authorization: Bearer <key>`); when no key is
configured the routes answer 404, as if they did not exist.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy import select

from prm.db.engine import Database
from prm.errors import DomainError, Duplicate
from prm.settings import Settings
from prm.tenants.models import Tenant
from prm.tenants.service import create_tenant

router = APIRouter(prefix="/platform", include_in_schema=False)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class CreateTenantBody(_Camel):
    slug: str = Field(max_length=63)
    name: str = Field(max_length=200)
    admin_email: str = Field(max_length=320)
    admin_password: str = Field(max_length=256)
    admin_name: str = Field(default="Administrator", max_length=200)
    default_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class TenantOut(_Camel):
    id: str
    slug: str
    name: str
    active: bool


def require_platform_key(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    settings: Settings = request.app.state.settings
    if settings.platform_api_key is None:
        raise HTTPException(status_code=404)
    expected = settings.platform_api_key.get_secret_value()
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(
            status_code=401, detail="invalid platform key", headers={"WWW-Authenticate": "Bearer"}
        )


def _out(tenant: Tenant) -> TenantOut:
    return TenantOut(id=str(tenant.id), slug=tenant.slug, name=tenant.name, active=tenant.active)


@router.post("/tenants", status_code=201, dependencies=[Depends(require_platform_key)])
async def create(body: CreateTenantBody, request: Request) -> JSONResponse:
    db: Database = request.app.state.db
    try:
        async with db.session() as session:
            tenant, _ = await create_tenant(
                session,
                slug=body.slug,
                name=body.name,
                admin_email=body.admin_email,
                admin_password=body.admin_password,
                admin_name=body.admin_name,
                default_currency=body.default_currency,
            )
    except DomainError as error:
        status = 409 if isinstance(error, Duplicate) else 400
        return JSONResponse(
            {"error": error.code.value, "field": error.field, "message": error.message},
            status_code=status,
        )
    return JSONResponse(_out(tenant).model_dump(by_alias=True), status_code=201)


@router.get("/tenants", dependencies=[Depends(require_platform_key)])
async def list_tenants(request: Request) -> list[TenantOut]:
    db: Database = request.app.state.db
    async with db.session() as session:
        tenants = (await session.scalars(select(Tenant).order_by(Tenant.slug).limit(1000))).all()
    return [_out(tenant) for tenant in tenants]
