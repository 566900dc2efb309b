"""`GET /.well-known/jwks.json` publishes the keys that verify access tokens."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet

from prm.db.engine import Database
from tests.auth.helpers import sign_in
from tests.factories import make_tenant


@pytest.mark.asyncio
async def test_the_jwks_verifies_an_issued_access_token(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    made = await make_tenant(database)
    issued = await sign_in(client, tenant=made.tenant.slug, email=made.admin.email)
    access_token = issued.json()["access_token"]

    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    jwks = response.json()
    assert all("d" not in key for key in jwks["keys"])  # public halves only
    decoded = jwt.decode(access_token, KeySet.import_key_set(jwks))
    assert decoded.claims["tid"] == str(made.id)
    assert decoded.claims["sub"] == str(made.admin.id)
    assert decoded.header["kid"] == jwks["keys"][0]["kid"]
