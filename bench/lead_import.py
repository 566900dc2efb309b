"""Bulk lead import: a CSV of 100,000 rows (small: 10,000) uploaded to
`POST /api/v1/leads/import` on a real server, then its job run by a fresh worker process.
Prints the upload rate, the job's rows/s (and its stage / insert / route phases), and the
worker's peak RSS, which must not grow with the file: compare small and large.

The file is realistic: every row has a company, contact, email, country, postal code,
product interest and value; 1% have a bad email and 1% repeat an earlier row's email.
No distribution rule exists, so every lead goes through routing and ends UNROUTABLE.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.harness import Figure, running_server
from bench.leads_support import COUNTRIES, bench_settings, issuer_for, make_tenant
from prm.graphql.relay import decode_global_id

NAME = "lead_import"
SIZES = {"small": 10_000, "large": 100_000}
PRODUCTS = ["routers", "switches", "firewalls", "cloud", "support"]

CHILD = """
import json, sys, time, uuid
from prm.db.engine import Database
from prm.settings import Settings
from prm.workers.actors import run_job
from prm.workers.models import Job


def status_kb(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


owner_url, tenant_id, job_id = sys.argv[1:4]
database = Database.from_settings(Settings(database_url=owner_url))
with database.sync_session(uuid.UUID(tenant_id)) as session:  # connect and warm up first
    session.get(Job, (uuid.UUID(tenant_id), uuid.UUID(job_id)))
before = status_kb("VmRSS")
started = time.perf_counter()
status = run_job(database, "leads.import", uuid.UUID(tenant_id), uuid.UUID(job_id))
seconds = time.perf_counter() - started
with database.sync_session(uuid.UUID(tenant_id)) as session:
    result = session.get(Job, (uuid.UUID(tenant_id), uuid.UUID(job_id))).result
print(json.dumps({"status": str(status), "seconds": seconds, "rss_before_kb": before,
                  "rss_peak_kb": status_kb("VmHWM"), "rss_after_kb": status_kb("VmRSS"),
                  "result": result}))
"""


def write_csv(path: Path, rows: int, rng: random.Random) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["companyName", "contactName", "email", "country", "postalCode",
             "productInterest", "estimatedValue", "currency", "source"]
        )  # fmt: skip
        for n in range(rows):
            roll = rng.random()
            if roll < 0.01:
                email = f"broken-{n}-at-example"
            elif roll < 0.02 and n > 0:
                email = f"buyer{n - 1}@company{n - 1}.example"  # repeats the row before
            else:
                email = f"buyer{n}@company{n}.example"
            writer.writerow(
                [
                    f"Company {n} Inc.", f"Contact {n}", email, rng.choice(COUNTRIES),
                    f"{rng.randrange(10000, 99999)}",
                    ";".join(rng.sample(PRODUCTS, 2)), f"{rng.randrange(1000, 100000)}.00", "USD",
                    "bench",
                ]
            )  # fmt: skip


def run(owner_url: str, size: str, workdir: Path) -> list[Figure]:
    settings = bench_settings(owner_url, workdir)
    rng = random.Random(11)
    rows = SIZES[size]
    tenant, admin = make_tenant(settings)
    path = workdir / "leads.csv"
    write_csv(path, rows, rng)
    size_mb = path.stat().st_size / 1024 / 1024
    headers = {"Authorization": f"Bearer {issuer_for(settings).issue(admin)}"}

    with running_server(owner_url, workdir) as base:
        started = time.perf_counter()
        with path.open("rb") as handle:
            response = httpx.post(
                f"{base}/api/v1/leads/import",
                files={"file": ("leads.csv", handle, "text/csv")},
                headers=headers,
                timeout=600,
            )
        upload_seconds = time.perf_counter() - started
    response.raise_for_status()
    job = decode_global_id(response.json()["jobId"])
    assert job is not None
    env = {**os.environ, "PRM_DATA_DIR": str(workdir), "PRM_LOG_LEVEL": "WARNING"}
    child = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", CHILD, owner_url, str(tenant.id), str(job[1])],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(child.stdout.strip().splitlines()[-1])
    result = report["result"]
    phases = result["seconds"]
    return [
        Figure(NAME, "rows in file", rows, "rows"),
        Figure(NAME, "file size", size_mb, "MB"),
        Figure(NAME, "upload", size_mb / upload_seconds, "MB/s"),
        Figure(NAME, "imported rows", result["importedRows"], "count"),
        Figure(
            NAME,
            "rejected rows (bad + duplicate)",
            result["errorRows"] + result["duplicateRows"],
            "count",
        ),
        Figure(NAME, "job rows/s (all phases)", rows / report["seconds"], "rows/s"),
        Figure(NAME, "stage + validate rows/s", rows / phases["stage"], "rows/s"),
        Figure(NAME, "de-duplicate + insert rows/s", rows / phases["insert"], "rows/s"),
        Figure(NAME, "route leads/s", result["routedRows"] / phases["route"], "leads/s"),
        Figure(NAME, "worker RSS before the job", report["rss_before_kb"] / 1024, "MB"),
        Figure(NAME, "worker peak RSS (VmHWM)", report["rss_peak_kb"] / 1024, "MB"),
        Figure(NAME, "worker RSS after the job", report["rss_after_kb"] / 1024, "MB"),
    ]
