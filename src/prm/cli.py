"""The `prm` command: serve, worker, scheduler, migrate, tenants, demo, schema, bench."""

from __future__ import annotations

import asyncio
import os
import runpy
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from prm.db.engine import Database
from prm.db.migrate import upgrade
from prm.db.urls import owner_url
from prm.errors import DomainError
from prm.ops.logging import configure_logging
from prm.settings import Settings, get_settings

T = TypeVar("T")

app = typer.Typer(help="prm: partner relationship management backend.", no_args_is_help=True)
tenants_app = typer.Typer(help="Create and list tenants (platform operator).", no_args_is_help=True)
schema_app = typer.Typer(help="The GraphQL schema.", no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(schema_app, name="schema")


def _settings() -> Settings:
    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def _prepare(settings: Settings) -> tuple[Settings, bool]:
    """Resolve the database once (starting the embedded one if needed), pin it in the
    environment for any child process, and bring the schema to head."""
    embedded = settings.database_url is None
    url = owner_url(settings)
    os.environ["PRM_DATABASE_URL"] = url
    get_settings.cache_clear()
    settings = get_settings()
    upgrade(url, settings)
    return settings, embedded


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _with_db(settings: Settings, work: Any) -> Any:
    db = Database.from_settings(settings)
    try:
        return await work(db)
    finally:
        await db.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    workers: Annotated[int, typer.Option(help="API processes.")] = 1,
    jobs: Annotated[
        bool | None,
        typer.Option(
            "--jobs/--no-jobs",
            help="Run a job worker and the scheduler in this process "
            "(default: on with the embedded database).",
        ),
    ] = None,
) -> None:
    """Start the API (and, on the embedded database, the demo tenant, a worker and the
    scheduler in-process)."""
    import uvicorn

    settings, embedded = _prepare(_settings())
    if embedded:
        from prm.demo import ensure_demo_tenant

        demo = _run(_with_db(settings, ensure_demo_tenant))
        _print_demo(demo)
    handle = None
    if jobs if jobs is not None else embedded:
        from prm.workers.runner import start_embedded_workers

        handle = start_embedded_workers(settings, Database.from_settings(settings))
    bind_host = host or settings.host
    bind_port = port or settings.port
    typer.echo(f"prm: GraphQL at http://{bind_host}:{bind_port}/graphql", err=True)
    try:
        uvicorn.run(
            "prm.app:create_app",
            factory=True,
            host=bind_host,
            port=bind_port,
            workers=workers,
            log_config=None,
            proxy_headers=True,
            timeout_graceful_shutdown=10,
        )
    finally:
        if handle is not None:
            handle.stop()


@app.command()
def worker(
    threads: Annotated[int | None, typer.Option(help="Worker threads.")] = None,
) -> None:
    """Run a job worker (production: as many as the load needs)."""
    from prm.workers.runner import run_worker

    settings, _ = _prepare(_settings())
    run_worker(
        settings, Database.from_settings(settings), threads=threads or settings.worker_threads
    )


@app.command()
def scheduler() -> None:
    """Run the scheduler: outbox sweeps and periodic jobs (several may run; ticks are
    taken under an advisory lock)."""
    from prm.workers.scheduler import run_scheduler

    settings, _ = _prepare(_settings())
    run_scheduler(settings, Database.from_settings(settings))


@app.command()
def migrate() -> None:
    """Bring the database schema to the latest revision (as the database owner)."""
    _prepare(_settings())
    typer.echo("prm: database schema is at head")


@tenants_app.command("create")
def tenants_create(
    slug: Annotated[str, typer.Option(help="URL-safe identifier, used at sign-in.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    admin_email: Annotated[str, typer.Option(help="The first admin's email.")],
    admin_password: Annotated[
        str, typer.Option(help="The first admin's password.", prompt=True, hide_input=True)
    ],
    currency: Annotated[str, typer.Option(help="Default currency (ISO 4217).")] = "USD",
) -> None:
    """Create a tenant and its first admin."""
    from prm.tenants.service import create_tenant

    settings, _ = _prepare(_settings())

    async def work(db: Database) -> Any:
        async with db.session() as session:
            tenant, admin = await create_tenant(
                session,
                slug=slug,
                name=name,
                admin_email=admin_email,
                admin_password=admin_password,
                default_currency=currency,
            )
            return tenant, admin

    try:
        tenant, admin = _run(_with_db(settings, work))
    except DomainError as error:
        typer.echo(f"prm: {error.field or 'error'}: {error.message}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"created tenant {tenant.slug} ({tenant.id}) with admin {admin.email}")


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants."""
    from sqlalchemy import select

    from prm.tenants.models import Tenant

    settings, _ = _prepare(_settings())

    async def work(db: Database) -> Any:
        async with db.session() as session:
            return (await session.scalars(select(Tenant).order_by(Tenant.slug))).all()

    for tenant in _run(_with_db(settings, work)):
        state = "active" if tenant.active else "inactive"
        typer.echo(f"{tenant.slug}\t{tenant.name}\t{tenant.id}\t{state}")


@app.command()
def demo() -> None:
    """Create the demo tenant (admin, manager, tiers, partners, partner users) and print
    its credentials."""
    from prm.demo import ensure_demo_tenant

    settings, _ = _prepare(_settings())
    _print_demo(_run(_with_db(settings, ensure_demo_tenant)))


def _print_demo(demo: Any) -> None:
    verb = "created" if demo.created else "exists"
    lines = [f"prm: demo tenant {demo.slug!r} {verb}; sign in with tenant={demo.slug}:"]
    for credential in demo.credentials:
        partner = f"  ({credential.partner})" if credential.partner else ""
        lines.append(
            f"  {credential.role:<14} {credential.email:<28} {credential.password}{partner}"
        )
    typer.echo("\n".join(lines), err=True)


@schema_app.command("export")
def schema_export() -> None:
    """Print the GraphQL schema (SDL)."""
    from prm.graphql.schema import schema

    typer.echo(schema.as_str())


@app.command()
def bench(
    size: Annotated[str, typer.Option(help="small, large or all")] = "all",
    only: Annotated[str | None, typer.Option(help="Run just this benchmark.")] = None,
) -> None:
    """Run the benchmarks under bench/ (from a source checkout) and print their figures."""
    runner = Path(__file__).resolve().parents[2] / "bench" / "run.py"
    if not runner.exists():
        typer.echo("prm: benchmarks run from a source checkout (bench/run.py)", err=True)
        raise typer.Exit(1)
    sys.argv = [str(runner), "--size", size, *(["--only", only] if only else [])]
    runpy.run_path(str(runner), run_name="__main__")


def main() -> None:
    app()
