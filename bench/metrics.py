"""Scorecards at scale: the `metrics.recompute` job (partner + employee scorecards and
customer metrics, `prm.metrics.recompute.recompute_period`) over a big tenant.

Large: 1,000 partners, 300 employees (a manager hierarchy, quotas and compensation plans),
1,000,000 leads, 2,000,000 offers, 200,000 opportunities, 1,000,000 activities (the
issue's figures), seeded with `COPY` as the owner over the last four quarters; small: a
tenth of each. Prints (1) the time to recompute every scorecard of the current quarter,
(2) the worker's peak RSS doing it (measured in a child process, so it is the worker's and
not the seeder's; it must not grow with the data), (3) that time over one hand-written
GROUP BY partner over the quarter's offers and opportunities (the floor), and (4) the time
from `updateOpportunity(stage: CLOSED_WON)` on a running server, worker and scheduler to
`Partner.scorecard` showing the deal (polled), p50 over a few closes.

The recompute runs in its own process (`python -m bench.metrics URL TENANT PERIOD`, which
loads every job kind as `prm worker` does); the latency phase starts `prm worker` and
`prm scheduler` beside the `running_server` API. With `PRM_BENCH_EXPLAIN=1` the plans
(EXPLAIN ANALYZE, BUFFERS) of the two scorecard statements go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import text

from bench.harness import PASSWORD, Figure, make_bench_tenant, running_server
from prm.auth.principal import Principal
from prm.db.engine import Database
from prm.db.ids import new_id
from prm.db.urls import libpq_dsn
from prm.graphql.relay import encode_global_id
from prm.metrics.periods import Period, period_containing
from prm.settings import Settings

NAME = "metrics"
LARGE = {
    "partners": 1_000,
    "employees": 300,
    "leads": 1_000_000,
    "offers": 2_000_000,
    "opportunities": 200_000,
    "activities": 1_000_000,
    "accounts": 20_000,
}
SIZES = {"large": LARGE, "small": {key: value // 10 for key, value in LARGE.items()}}
RUNS = 3
CLOSES = 5
MANAGERS = 10
OPEN_STAGES = ["PROSPECTING", "QUALIFICATION", "PROPOSAL", "NEGOTIATION"]
PROBABILITY = {"PROSPECTING": 10, "QUALIFICATION": 25, "PROPOSAL": 50, "NEGOTIATION": 75}
CHANNELS = ["EMAIL", "PHONE", "MEETING", "CHAT"]
ACCEPTED_STATUSES = ["ACCEPTED", "WORKING", "QUALIFIED", "CONVERTED", "CONVERTED", "LOST"]

FLOOR = """
SELECT partner_id, sum(offered), sum(accepted), sum(won), sum(lost), sum(revenue)
FROM (
    SELECT partner_id, count(*) AS offered,
           count(*) FILTER (WHERE status = 'ACCEPTED') AS accepted,
           0 AS won, 0 AS lost, 0 AS revenue
    FROM lead_offers
    WHERE tenant_id = %(tenant)s AND offered_at >= %(start)s AND offered_at < %(end)s
    GROUP BY partner_id
    UNION ALL
    SELECT partner_id, 0, 0,
           count(*) FILTER (WHERE stage = 'CLOSED_WON'),
           count(*) FILTER (WHERE stage = 'CLOSED_LOST'),
           coalesce(sum(amount) FILTER (WHERE stage = 'CLOSED_WON'), 0)
    FROM opportunities
    WHERE tenant_id = %(tenant)s AND partner_id IS NOT NULL
      AND closed_at >= %(start)s AND closed_at < %(end)s
    GROUP BY partner_id
) per_source
GROUP BY partner_id
"""

SCORECARD = """
query($id: ID!, $period: String!) {
  node(id: $id) { ... on Partner { scorecard(period: $period) { dealsWon computedAt } } }
}
"""

CLOSE = """
mutation($id: ID!) {
  updateOpportunity(id: $id, input: {stage: CLOSED_WON}) {
    opportunity { id stage }
    errors { code message }
  }
}
"""


def _window(now: datetime) -> tuple[datetime, Period]:
    """The seeded span, the current quarter and the three before it, and that quarter."""
    quarter = period_containing(now, "QUARTER")
    start = quarter.start
    for _ in range(3):
        start = quarter_before(start)
    return start, quarter


def quarter_before(start: datetime) -> datetime:
    year, month = divmod(start.year * 12 + start.month - 1 - 3, 12)
    return datetime(year, month + 1, 1, tzinfo=UTC)


class Seeder:
    """Writes the tenant's rows with COPY; keeps the ids later tables refer to."""

    def __init__(self, tenant_id: uuid.UUID, counts: dict[str, int], now: datetime) -> None:
        self.tenant = tenant_id
        self.counts = counts
        self.now = now
        self.start, self.quarter = _window(now)
        self.span = (now - self.start).total_seconds()
        self.rng = random.Random(17)
        self.partners = [uuid.uuid4() for _ in range(counts["partners"])]
        self.employees = [uuid.uuid4() for _ in range(counts["employees"])]
        self.users = [uuid.uuid4() for _ in range(counts["employees"])]
        self.accounts = [uuid.uuid4() for _ in range(counts["accounts"])]
        self.converted: list[tuple[uuid.UUID, uuid.UUID, datetime]] = []
        """(lead, partner, converted at) of converted leads, to source opportunities."""

    def moments(self, count: int, rng: random.Random) -> list[datetime]:
        """`count` moments spread uniformly over the seeded span, in order: rows are written
        in time order (with time-ordered ids, as the app's `new_id` makes) the way they
        accumulate in production, so indexes on time and id grow at their right edge."""
        offsets = sorted(rng.random() * self.span for _ in range(count))
        return [self.start + timedelta(seconds=offset) for offset in offsets]

    def seed(self, owner_url: str) -> None:
        """People and accounts first; then leads, offers, events and opportunities in one
        connection while activities stream in through another (two COPYs keep both cores
        of a small box busy)."""
        dsn = libpq_dsn(owner_url)
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            self._people(cur)
            conn.commit()
            # Statistics before the big COPYs: without them the foreign key checks of
            # millions of rows plan sequential scans of the referenced tables.
            conn.execute("ANALYZE")

        def in_connection(*steps: Callable[[psycopg.Cursor[Any]], None]) -> None:
            with psycopg.connect(dsn) as conn, conn.cursor() as cur:
                for step in steps:
                    step(cur)
                    conn.commit()

        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(in_connection, self._leads, self._opportunities),
                pool.submit(in_connection, self._activities),
            ]
            for future in futures:
                future.result()

    def _people(self, cur: psycopg.Cursor[Any]) -> None:
        t, rng = self.tenant, self.rng
        with cur.copy(
            "COPY partners (tenant_id, id, name, status, country, postal_prefixes, capabilities,"
            " performance_score) FROM STDIN"
        ) as copy:
            for n, pk in enumerate(self.partners):
                status = "SUSPENDED" if n % 50 == 49 else "ACTIVE"
                copy.write_row((t, pk, f"Partner {n}", status, "US", [], [], rng.random() * 100))
        with cur.copy("COPY users (tenant_id, id, email, name, roles) FROM STDIN") as copy:
            for n, pk in enumerate(self.users):
                role = "MANAGER" if n < MANAGERS else "EMPLOYEE"
                copy.write_row((t, pk, f"e{n}@bench.example", f"Employee {n}", [role]))
        with cur.copy(
            "COPY employees (tenant_id, id, name, email, title, team, manager_id, user_id,"
            " active) FROM STDIN"
        ) as copy:
            for n, pk in enumerate(self.employees):
                # 0 heads sales, 1..9 manage a team each, everyone else reports to one.
                manager = None if n == 0 else self.employees[0 if n < MANAGERS else n % 9 + 1]
                team = f"Team {n % 9 + 1}" if n else "Leadership"
                copy.write_row((t, pk, f"Employee {n}", f"e{n}@bench.example",
                                "Manager" if n < MANAGERS else "Rep", team, manager,
                                self.users[n], n % 40 != 39))  # fmt: skip
        plans = [uuid.uuid4() for _ in range(3)]
        with cur.copy(
            "COPY compensation_plans (tenant_id, id, name, base_percent, accelerator_percent,"
            " cap_amount, currency, active) FROM STDIN"
        ) as copy:
            for n, pk in enumerate(plans):
                cap = Decimal(50_000) if n == 2 else None
                copy.write_row((t, pk, f"Plan {n}", Decimal(5 + n), Decimal(2 * n), cap,
                                "USD", True))  # fmt: skip
        year = str(self.quarter.start.year)
        with cur.copy(
            "COPY compensation_assignments (tenant_id, id, employee_id, plan_id, period) FROM STDIN"
        ) as copy:
            for n, pk in enumerate(self.employees):
                period = year if n % 3 == 0 else self.quarter.key
                copy.write_row((t, uuid.uuid4(), pk, plans[n % 3], period))
        with cur.copy(
            "COPY objectives (tenant_id, id, employee_id, period, metric, target) FROM STDIN"
        ) as copy:
            for pk in self.employees:
                quota = Decimal(rng.randrange(200, 2_000) * 1_000)
                copy.write_row((t, uuid.uuid4(), pk, self.quarter.key, "REVENUE_WON", quota))
                copy.write_row((t, uuid.uuid4(), pk, self.quarter.key, "DEALS_WON",
                                Decimal(rng.randrange(5, 40))))  # fmt: skip
        with cur.copy(
            "COPY accounts (tenant_id, id, name, normalized_name, country, owner_id, partner_id)"
            " FROM STDIN"
        ) as copy:
            for n, pk in enumerate(self.accounts):
                partner = rng.choice(self.partners) if n % 3 else None
                copy.write_row((t, pk, f"Account {n}", f"account {n}", "US",
                                rng.choice(self.employees), partner))  # fmt: skip

    def _leads(self, cur: psycopg.Cursor[Any]) -> None:
        """Each lead gets two offers (so offers = 2 x leads): the first to one partner is
        rejected or expires; the second, to another, is accepted (the lead is then worked,
        and a third of those convert: a CONVERTED lead event), rejected, expires (half of
        those leads are then claimed from the pool), or is still pending when recent."""
        t, rng, now = self.tenant, self.rng, self.now
        per_lead = max(1, self.counts["offers"] // self.counts["leads"])
        leads: list[tuple[Any, ...]] = []
        offers: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        sla = timedelta(hours=48)
        for n, created in enumerate(self.moments(self.counts["leads"], rng)):
            lead_id = new_id()
            first, second = rng.sample(self.partners, 2)
            offered = created + timedelta(minutes=1)
            # First offer: rejected within a day, or expired after the SLA.
            if rng.random() < 0.7:
                answered = offered + timedelta(hours=rng.random() * 24)
                offers.append((t, new_id(), lead_id, first, "REJECTED", offered,
                               offered + sla, answered))  # fmt: skip
                ended = answered
            else:
                offers.append((t, new_id(), lead_id, first, "EXPIRED", offered,
                               offered + sla, None))  # fmt: skip
                ended = offered + sla
            status, partner, accepted_at = "UNROUTABLE", None, None
            if per_lead > 1:
                offered = ended + timedelta(minutes=1)
                expires = offered + sla
                draw = rng.random()
                if expires > now:
                    offers.append((t, new_id(), lead_id, second, "PENDING", offered,
                                   expires, None))  # fmt: skip
                    status = "OFFERED"
                elif draw < 0.75:
                    hours = rng.expovariate(1 / 6)  # median about 4 hours
                    accepted_at = offered + timedelta(hours=hours)
                    offers.append((t, new_id(), lead_id, second, "ACCEPTED", offered,
                                   expires, accepted_at))  # fmt: skip
                    partner, status = second, rng.choice(ACCEPTED_STATUSES)
                elif draw < 0.85:
                    answered = offered + timedelta(hours=rng.random() * 48)
                    offers.append((t, new_id(), lead_id, second, "REJECTED", offered,
                                   expires, answered))  # fmt: skip
                else:
                    offers.append((t, new_id(), lead_id, second, "EXPIRED", offered,
                                   expires, None))  # fmt: skip
                    if draw < 0.92:
                        accepted_at = expires + timedelta(hours=rng.random() * 24)
                        partner, status = rng.choice(self.partners), "ACCEPTED"
                    else:
                        status = "POOLED"
            if status == "CONVERTED" and accepted_at is not None and partner is not None:
                converted = accepted_at + timedelta(days=rng.random() * 30)
                if converted < now:
                    events.append((t, new_id(), lead_id, converted, "CONVERTED",
                                   "QUALIFIED", "CONVERTED", partner))  # fmt: skip
                    self.converted.append((lead_id, partner, converted))
                else:
                    status = "QUALIFIED"
            if accepted_at is not None and accepted_at > now:
                accepted_at, status = None, "POOLED"
            leads.append((t, lead_id, status, f"Lead {n}", f"lead {n}", "US", [], 50,
                          partner, accepted_at, created))  # fmt: skip
        with cur.copy(
            "COPY leads (tenant_id, id, status, company_name, normalized_company, country,"
            " product_interest, score, partner_id, accepted_at, created_at) FROM STDIN"
        ) as copy:
            for row in leads:
                copy.write_row(row)
        del leads
        cur.execute("ANALYZE leads")  # counts this transaction's rows: see `seed`
        with cur.copy(
            "COPY lead_offers (tenant_id, id, lead_id, partner_id, status, offered_at,"
            " expires_at, responded_at) FROM STDIN"
        ) as copy:
            for row in offers:
                copy.write_row(row)
        del offers
        with cur.copy(
            "COPY lead_events (tenant_id, id, lead_id, at, kind, from_status, to_status,"
            " partner_id) FROM STDIN"
        ) as copy:
            for row in events:
                copy.write_row(row)

    def _opportunities(self, cur: psycopg.Cursor[Any]) -> None:
        """35 % open, 35 % won, 30 % lost; a closed one closes 1-90 days after it opened
        (never in the future); 70 % come through a partner, a tenth of those from a
        converted lead; 5 % are in EUR (left out of USD money sums)."""
        t, rng, now = self.tenant, self.rng, self.now
        sources = self.converted
        with cur.copy(
            "COPY opportunities (tenant_id, id, account_id, name, amount, currency, stage,"
            " probability, closed_at, owner_id, partner_id, source_lead_id, created_at)"
            " FROM STDIN"
        ) as copy:
            for n, created in enumerate(self.moments(self.counts["opportunities"], rng)):
                draw = rng.random()
                closed_at: datetime | None = min(
                    now, created + timedelta(days=1 + rng.random() * 89)
                )
                if draw < 0.35:
                    stage, closed_at = rng.choice(OPEN_STAGES), None
                    probability = PROBABILITY[stage]
                else:
                    stage = "CLOSED_WON" if draw < 0.7 else "CLOSED_LOST"
                    probability = 100 if stage == "CLOSED_WON" else 0
                partner = source = None
                if n % 10 < 7:
                    partner = rng.choice(self.partners)
                    if n % 10 == 0 and sources:
                        source, partner, converted = sources[rng.randrange(len(sources))]
                        created = max(created, converted)
                        closed_at = closed_at and max(closed_at, created)
                currency = "EUR" if n % 20 == 19 else "USD"
                copy.write_row((t, new_id(), rng.choice(self.accounts), f"Deal {n}",
                                Decimal(rng.randrange(1_000, 200_000)), currency, stage,
                                probability, closed_at, rng.choice(self.employees[1:]),
                                partner, source, created))  # fmt: skip

    def _activities(self, cur: psycopg.Cursor[Any]) -> None:
        t, rng = self.tenant, random.Random(23)
        moments = self.moments(self.counts["activities"], rng)
        with cur.copy(
            "COPY activities (tenant_id, id, channel, direction, summary, occurred_at,"
            " actor_user_id, account_id) FROM STDIN"
        ) as copy:
            for n, occurred in enumerate(moments):
                actor = rng.choice(self.users) if n % 10 else None
                copy.write_row((t, new_id(), CHANNELS[n % 4], "OUTBOUND", "Touch",
                                occurred, actor, rng.choice(self.accounts)))  # fmt: skip


def seed(owner_url: str, tenant_id: uuid.UUID, counts: dict[str, int], now: datetime) -> None:
    """Bulk rows with COPY as the owner (a superuser here: RLS does not filter COPY)."""
    Seeder(tenant_id, counts, now).seed(owner_url)
    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _memory_kb(field: str) -> int:
    """`VmRSS` (now) or `VmHWM` (the peak so far) of this process, in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def recompute_child(owner_url: str, tenant_id: str, period: str) -> None:
    """The worker side, run as `python -m bench.metrics URL TENANT PERIOD` in its own
    process: load what `prm worker` loads (every job kind), then run the job body as the
    `metrics.recompute` actor does (one tenant transaction) `RUNS` times. Prints JSON: the
    seconds of each run, RSS before the first and the process's peak RSS (MB)."""
    import prm.workers.kinds  # noqa: F401 - a worker imports every job body
    from prm.metrics.recompute import recompute_period

    tenant = uuid.UUID(tenant_id)
    database = Database.from_settings(Settings(database_url=owner_url, log_level="WARNING"))
    with database.sync_session(tenant) as session:
        session.execute(text("SELECT 1"))  # the pool's connection, before the baseline
    with contextlib.suppress(OSError):  # restart VmHWM here: the peak is the recompute's
        Path("/proc/self/clear_refs").write_text("5")
    before = _memory_kb("VmRSS")
    seconds = []
    for _ in range(RUNS):
        started = time.perf_counter()
        with database.sync_session(tenant) as session:
            recompute_period(session, Principal.system(tenant), period=period)
        seconds.append(time.perf_counter() - started)
    peak = _memory_kb("VmHWM")
    database.sync_engine.dispose()
    print(json.dumps({"seconds": seconds, "before_mb": before / 1024, "peak_mb": peak / 1024}))


def measure_recompute(
    owner_url: str, workdir: Path, tenant_id: uuid.UUID, period: str
) -> tuple[list[float], float, float]:
    """Seconds per recompute, and the worker process's RSS before and at its peak (MB)."""
    root = Path(__file__).resolve().parents[1]
    output = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.metrics", owner_url, str(tenant_id), period],
        cwd=root,
        env={**os.environ, "PRM_DATA_DIR": str(workdir), "PYTHONPATH": str(root / "src")},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    return figures["seconds"], figures["before_mb"], figures["peak_mb"]


def measure_floor(owner_url: str, tenant_id: uuid.UUID, period: Period) -> float:
    """The median seconds of the hand-written GROUP BY partner (warm, like the recompute)."""
    params = {"tenant": tenant_id, "start": period.start, "end": period.end}
    seconds = []
    with psycopg.connect(libpq_dsn(owner_url)) as conn:
        for _ in range(RUNS):
            started = time.perf_counter()
            conn.execute(FLOOR, params).fetchall()
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


@contextlib.contextmanager
def jobs_running(owner_url: str, workdir: Path) -> Iterator[None]:
    """`prm worker` and `prm scheduler` as their own processes (the server of
    `running_server` is the API alone: jobs only run with a worker, and stale periods are
    only turned into jobs by the scheduler)."""
    env = {
        **os.environ,
        "PRM_DATABASE_URL": owner_url,
        "PRM_DATA_DIR": str(workdir),
        "PRM_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-c", "from prm.cli import main; main()"]
    processes = [
        subprocess.Popen([*command, role], env=env)  # noqa: S603 - our own interpreter
        for role in ("worker", "scheduler")
    ]
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def wait_idle(owner_url: str, tenant_id: uuid.UUID, timeout: float = 600) -> None:
    """Until the tenant has no queued or running recompute and no stale mark (other job
    kinds, which an opportunity closing may also ask for, are not waited on)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq_dsn(owner_url), autocommit=True) as conn:
        while time.monotonic() < deadline:
            busy = conn.execute(
                "SELECT (SELECT count(*) FROM jobs WHERE tenant_id = %(t)s"
                "        AND kind = 'metrics.recompute' AND status IN ('QUEUED', 'RUNNING'))"
                "     + (SELECT count(*) FROM metrics_dirty WHERE tenant_id = %(t)s)",
                {"t": tenant_id},
            ).fetchone()
            if busy is not None and busy[0] == 0:
                return
            time.sleep(0.5)
    raise RuntimeError("the worker did not catch up")


def _token(base: str) -> str:
    response = httpx.post(
        f"{base}/oauth/token",
        data={
            "grant_type": "password",
            "username": "admin@bench.example",
            "password": PASSWORD,
            "tenant": "bench",
        },
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def measure_close_latency(
    owner_url: str, workdir: Path, tenant_id: uuid.UUID, period: str
) -> list[float]:
    """Seconds from `updateOpportunity(stage: CLOSED_WON)` to the partner's scorecard
    counting it, for `CLOSES` open opportunities of different partners, one at a time."""
    with psycopg.connect(libpq_dsn(owner_url)) as conn:
        picks = conn.execute(
            "SELECT DISTINCT ON (partner_id) id, partner_id FROM opportunities"
            " WHERE tenant_id = %s AND stage = 'NEGOTIATION' AND partner_id IS NOT NULL"
            "   AND currency = 'USD' ORDER BY partner_id, id LIMIT %s",
            (tenant_id, CLOSES),
        ).fetchall()
    latencies = []
    with running_server(owner_url, workdir) as base, jobs_running(owner_url, workdir):
        wait_idle(owner_url, tenant_id)  # the scheduler's first recomputes
        headers = {"Authorization": f"Bearer {_token(base)}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:

            def deals_won(partner: uuid.UUID) -> int:
                body = {
                    "query": SCORECARD,
                    "variables": {"id": encode_global_id("Partner", partner), "period": period},
                }
                data = client.post("/graphql", json=body).json()
                if data.get("errors"):
                    raise RuntimeError(f"partner scorecard: {data['errors']}"[:1000])
                card = data["data"]["node"]["scorecard"]
                return int(card["dealsWon"]) if card else 0

            for opportunity, partner in picks:
                before = deals_won(partner)
                started = time.perf_counter()
                body = {
                    "query": CLOSE,
                    "variables": {"id": encode_global_id("Opportunity", opportunity)},
                }
                answer = client.post("/graphql", json=body).json()
                assert not answer["data"]["updateOpportunity"]["errors"], answer
                while deals_won(partner) != before + 1:
                    if time.perf_counter() - started > 600:
                        raise RuntimeError("the scorecard never showed the close")
                    time.sleep(0.2)
                latencies.append(time.perf_counter() - started)
                wait_idle(owner_url, tenant_id)  # the month and year recomputes too
    return latencies


def explain(owner_url: str, tenant_id: uuid.UUID, period: Period) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the scorecard statements, printed to stderr (in a
    rolled-back transaction: the INSERTs run). Only with `PRM_BENCH_EXPLAIN=1`."""
    from prm.metrics import employee_scorecards, partner_scorecards

    statements = [
        ("partner scorecards", str(partner_scorecards._INSERT.text)),
        ("employee scorecards", str(employee_scorecards._INSERT.text)),
    ]
    params: dict[str, Any] = {
        "tenant_id": tenant_id,
        "period": period.key,
        "quarter": period.key,
        "year": str(period.start.year),
        "start": period.start,
        "end": period.end,
        "now": datetime.now(UTC),
        "currency": "USD",
        "minor_units": 2,
        "quota_weight": 0.5,
        "quota_cap": 1.5,
        "win_rate_weight": 0.3,
        "activity_weight": 0.2,
        **{f"w_{name}": w for name, w in partner_scorecards.WEIGHTS.items()},
    }
    with psycopg.connect(libpq_dsn(owner_url)) as conn:
        for table in ("partner_scorecards", "employee_scorecards"):
            conn.execute(
                f"DELETE FROM {table} WHERE tenant_id = %s AND period = %s",  # noqa: S608
                (tenant_id, period.key),
            )
        for label, sql in statements:
            query = sql.replace("::", "\x00")
            for key in sorted(params, key=len, reverse=True):
                query = query.replace(f":{key}", f"%({key})s")
            query = query.replace("\x00", "::")
            plan = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS) " + query,
                params,
            ).fetchall()
            print(f"--- EXPLAIN {label}", file=sys.stderr)
            for (line,) in plan:
                print(line, file=sys.stderr)
        conn.rollback()


def run(owner_url: str, size: str, workdir: Path) -> list[Figure]:
    settings = Settings(database_url=owner_url, data_dir=workdir, log_level="WARNING")
    tenant_id = asyncio.run(make_bench_tenant(settings))
    counts = SIZES[size]
    now = datetime.now(UTC)
    started = time.perf_counter()
    seed(owner_url, tenant_id, counts, now)
    seeding = time.perf_counter() - started
    _, quarter = _window(now)
    seconds, baseline_mb, peak_mb = measure_recompute(owner_url, workdir, tenant_id, quarter.key)
    recompute = statistics.median(seconds)
    floor = measure_floor(owner_url, tenant_id, quarter)
    if os.environ.get("PRM_BENCH_EXPLAIN"):
        explain(owner_url, tenant_id, quarter)
    latencies = measure_close_latency(owner_url, workdir, tenant_id, quarter.key)
    return [
        Figure(NAME, "leads seeded", counts["leads"], "rows"),
        Figure(NAME, "offers seeded", counts["offers"], "rows"),
        Figure(NAME, "seeding (COPY + ANALYZE)", seeding, "s"),
        Figure(NAME, f"recompute one quarter, first of {RUNS}", seconds[0] * 1000, "ms"),
        Figure(NAME, f"recompute one quarter, median of {RUNS}", recompute * 1000, "ms"),
        Figure(NAME, "worker RSS before recompute", baseline_mb, "MB"),
        Figure(NAME, "worker peak RSS", peak_mb, "MB"),
        Figure(NAME, "worker RSS growth in recompute", peak_mb - baseline_mb, "MB"),
        Figure(NAME, "floor: one GROUP BY partner", floor * 1000, "ms"),
        Figure(NAME, "recompute / floor", recompute / floor, "x"),
        Figure(NAME, "close to scorecard p50", statistics.median(latencies), "s"),
        Figure(NAME, "close to scorecard max", max(latencies), "s"),
    ]


if __name__ == "__main__":
    recompute_child(*sys.argv[1:4])
