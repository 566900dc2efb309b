"""`importLeads(file: Upload!)`: the GraphQL twin of `POST /api/v1/leads/import` (a
GraphQL multipart request). Admins and managers; the file is read piece by piece."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import strawberry
from strawberry.file_uploads import Upload

from prm.auth.principal import Role
from prm.errors import InvalidInput
from prm.graphql.context import Info
from prm.graphql.jobs.types import JobType
from prm.graphql.lead_imports.types import LeadImportType
from prm.graphql.mutations import Payload, mutation
from prm.graphql.permissions import require_principal
from prm.leads.import_job import CHUNK_BYTES
from prm.leads.importing import start_import
from prm.workers.models import Job


@strawberry.type
class LeadImportPayload(Payload):
    lead_import: LeadImportType | None = None
    job: JobType | None = None


async def _pieces(upload: Any) -> AsyncIterator[bytes]:
    while piece := await upload.read(CHUNK_BYTES):
        yield piece


@strawberry.type
class Mutation:
    @mutation(
        LeadImportPayload,
        roles=(Role.ADMIN, Role.MANAGER),
        description="Import leads from a CSV file (UTF-8, header row, CreateLeadInput's "
        "columns); a job stages, validates, de-duplicates, inserts and routes them.",
    )
    async def import_leads(self, info: Info, file: Upload) -> LeadImportPayload:
        if not hasattr(file, "read"):
            raise InvalidInput("send the file as a multipart upload", field="file")
        record = await start_import(
            info.context.session,
            require_principal(info),
            _pieces(file),
            filename=getattr(file, "filename", None),
        )
        job = await info.context.session.get(Job, (record.tenant_id, record.job_id))
        return LeadImportPayload(
            lead_import=LeadImportType.from_model(record),
            job=JobType.from_model(job) if job else None,
        )
