"""Every job kind, listed once. A domain adds its jobs here (e.g. `metrics.recompute`)."""

from __future__ import annotations

from prm.catalog.recommendation_compute import ASSOCIATIONS, compute_associations
from prm.incentives.evaluate import EVALUATE, REBATES, compute_rebates, evaluate_opportunity
from prm.leads.import_job import IMPORT_KIND, run_import
from prm.metrics.recompute import RECOMPUTE, recompute_period
from prm.partners.program_evaluation import PROGRAMS_EVALUATE, run_evaluation
from prm.webhooks.delivery import DELIVER, deliver
from prm.workers.maintenance import PURGE, purge_tenant
from prm.workers.registry import JobKind, JobRegistry

JOBS = JobRegistry(
    (
        JobKind(PURGE, purge_tenant, max_retries=3),
        JobKind(IMPORT_KIND, run_import, max_retries=2, time_limit_ms=60 * 60_000),
        JobKind(RECOMPUTE, recompute_period, max_retries=3),
        JobKind(PROGRAMS_EVALUATE, run_evaluation, max_retries=3),
        JobKind(EVALUATE, evaluate_opportunity, max_retries=5),
        JobKind(REBATES, compute_rebates, max_retries=3),
        JobKind(ASSOCIATIONS, compute_associations, max_retries=3),
        JobKind(DELIVER, deliver, queue="webhooks", max_retries=2, time_limit_ms=5 * 60_000),
    ),
)
