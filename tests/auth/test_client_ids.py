"""API client ids carry their tenant."""

from __future__ import annotations

import uuid

import pytest

from prm.auth.client_ids import new_client_id, tenant_of_client_id


def test_a_client_id_names_its_tenant() -> None:
    tenant_id = uuid.uuid4()
    client_id = new_client_id(tenant_id)
    assert client_id.startswith("prm_")
    assert tenant_of_client_id(client_id) == tenant_id
    assert new_client_id(tenant_id) != client_id


@pytest.mark.parametrize(
    "client_id",
    [
        "",
        "prm_",
        "abc",
        f"prm_{uuid.uuid4().hex}",
        f"xyz_{uuid.uuid4().hex}_{uuid.uuid4().hex}",
        f"prm_{uuid.uuid4().hex}_{uuid.uuid4().hex}\n",
        f"prm_{uuid.uuid4().hex.upper()}_{'a' * 32}",
    ],
)
def test_anything_else_names_no_tenant(client_id: str) -> None:
    assert tenant_of_client_id(client_id) is None
