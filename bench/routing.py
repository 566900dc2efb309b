"""Routing throughput: NEW leads routed by the routing service (`routing.route_leads`,
what bulk import and re-routing use; `createLead` routes one lead the same way) with
1,000 partners and 50 rules (small: 100 partners, 10 rules). Partners have a country,
two capabilities, a tier and a performance score; rules mix OFFER and POOL, the three
strategies, country and capability criteria, and end with a catch-all. Prints leads
routed per second and where they went (the routing SQL must not grow with the partners).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import psycopg

from bench.harness import Figure
from bench.leads_support import (
    COUNTRIES,
    bench_settings,
    copy_leads,
    make_tenant,
    seed_partners,
    seed_rules,
)
from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.db.urls import libpq_dsn
from prm.leads.routing import route_leads

NAME = "routing"
SIZES = {"small": (100, 10), "large": (1_000, 50)}
LEADS = 2_000
BATCH = 100
WARMUP = 100


def run(owner_url: str, size: str, workdir: Path) -> list[Figure]:
    settings = bench_settings(owner_url, workdir)
    rng = random.Random(7)
    partners, rules = SIZES[size]
    tenant, _ = make_tenant(settings)
    database = Database.from_settings(settings)
    seed_partners(database, tenant.id, partners, rng=rng)
    seed_rules(database, tenant.id, rules, rng=rng)
    leads = copy_leads(
        owner_url, tenant.id, WARMUP + LEADS, status="NEW", countries=COUNTRIES, rng=rng
    )
    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as conn:
        conn.execute("ANALYZE")
    system = Principal.system(tenant.id)
    with database.sync_session(tenant.id) as session:
        route_leads(session, system, leads[:WARMUP])
    routed = 0
    started = time.perf_counter()
    for start in range(WARMUP, len(leads), BATCH):
        with database.sync_session(tenant.id) as session:
            routed += route_leads(session, system, leads[start : start + BATCH])
    seconds = time.perf_counter() - started
    with psycopg.connect(libpq_dsn(owner_url)) as conn:
        statuses: dict[str, int] = dict(
            conn.execute(
                "SELECT status, count(*) FROM leads WHERE tenant_id = %s GROUP BY status",
                (tenant.id,),
            ).fetchall()
        )
    database.sync_engine.dispose()
    return [
        Figure(NAME, "partners", partners, "rows"),
        Figure(NAME, "rules", rules, "rows"),
        Figure(NAME, "leads routed", routed, "count"),
        Figure(NAME, "leads routed/s", routed / seconds, "leads/s"),
        Figure(NAME, "ms per lead", seconds / routed * 1000, "ms"),
        Figure(NAME, "offered", statuses.get("OFFERED", 0), "count"),
        Figure(NAME, "pooled", statuses.get("POOLED", 0), "count"),
        Figure(NAME, "unroutable", statuses.get("UNROUTABLE", 0), "count"),
    ]
