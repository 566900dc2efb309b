"""The `prm` command, run in-process against the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from prm.cli import app
from prm.settings import get_settings
from tests.factories import DEFAULT_PASSWORD, unique


@pytest.fixture
def cli(owner_url: str, settings_env: None) -> Iterator[CliRunner]:
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def settings_env(owner_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("PRM_DATABASE_URL", owner_url)
    monkeypatch.setenv("PRM_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PRM_LOG_JSON", "false")
    get_settings.cache_clear()


def test_migrate_reports_the_schema_at_head(cli: CliRunner) -> None:
    result = cli.invoke(app, ["migrate"])
    assert result.exit_code == 0, result.output
    assert "at head" in result.output


def test_tenants_create_then_list_shows_it(cli: CliRunner) -> None:
    slug = unique("cli")
    created = cli.invoke(
        app,
        [
            "tenants", "create", "--slug", slug, "--name", "Cli Co",
            "--admin-email", "boss@cli.example", "--admin-password", DEFAULT_PASSWORD,
        ],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert f"created tenant {slug}" in created.output
    listed = cli.invoke(app, ["tenants", "list"])
    assert listed.exit_code == 0
    assert any(line.startswith(f"{slug}\tCli Co\t") for line in listed.output.splitlines())


def test_tenants_create_refuses_bad_input_with_a_message_and_exit_1(cli: CliRunner) -> None:
    result = cli.invoke(
        app,
        [
            "tenants", "create", "--slug", "Not A Slug", "--name", "X",
            "--admin-email", "a@b.example", "--admin-password", DEFAULT_PASSWORD,
        ],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "slug" in result.output


def test_demo_creates_the_demo_tenant_once_and_prints_credentials(cli: CliRunner) -> None:
    first = cli.invoke(app, ["demo"])
    second = cli.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "admin@demo.example" in first.output
    assert "PARTNER_REP" in first.output
    assert "exists" in second.output


def test_schema_export_prints_the_sdl_with_the_contract_names(cli: CliRunner) -> None:
    result = cli.invoke(app, ["schema", "export"])
    assert result.exit_code == 0, result.output
    for line in (
        "node(id: ID!): Node",
        "me: Viewer!",
        "job(id: ID!): Job",
        "inviteUser(input: InviteUserInput!): UserPayload!",
        "createApiClient(input: CreateApiClientInput!): ApiClientPayload!",
    ):
        assert line in result.output
