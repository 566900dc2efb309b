"""`LeadImport` (a Node: an uploaded file's progress, counts and error report) and
`LeadImportError`. Admins and managers see their tenant's imports; nobody else does."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from sqlalchemy import Select, select

from prm.auth.principal import Principal
from prm.graphql.context import Context, Info
from prm.graphql.jobs.types import JobStatusEnum, JobType, load_job
from prm.graphql.pagination import Connection, Ordering, paginate
from prm.graphql.permissions import require_principal
from prm.graphql.relay import Node, register_node
from prm.leads.import_models import LeadImport, LeadImportError
from prm.leads.visibility import is_lead_manager
from prm.workers.models import Job


def readable_imports(principal: Principal) -> Select[LeadImport]:
    statement = select(LeadImport).where(LeadImport.tenant_id == principal.tenant_id)
    return statement if is_lead_manager(principal) else statement.where(LeadImport.id.is_(None))


@strawberry.type(name="LeadImportError", description="A row that was not imported, and why.")
class LeadImportErrorType:
    row_number: int = strawberry.field(
        description="The record's position in the file; the header is row 1."
    )
    code: str = strawberry.field(description="INVALID (a bad value) or DUPLICATE (skipped).")
    column: str | None = strawberry.field(description="The column at fault, if one is.")
    message: str
    pk: strawberry.Private[uuid.UUID]

    @classmethod
    def from_model(cls, row: LeadImportError) -> LeadImportErrorType:
        return cls(
            row_number=row.row_number,
            code=row.code,
            column=row.column_name,
            message=row.message,
            pk=row.id,
        )


@strawberry.type(name="LeadImport", description="A CSV file of leads and what became of it.")
class LeadImportType(Node):
    filename: str | None
    size_bytes: int
    file_sha256: str
    columns: list[str]
    phase: str = strawberry.field(
        description="UPLOADING QUEUED STAGING VALIDATING ROUTING DONE (the job's status "
        "says whether it committed)."
    )
    total_rows: int
    processed_rows: int = strawberry.field(description="Rows staged so far.")
    imported_rows: int
    duplicate_rows: int
    error_rows: int
    routed_rows: int
    created_at: datetime
    finished_at: datetime | None
    job_pk: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The job running the import.")
    async def job(self, info: Info) -> JobType | None:
        return await load_job(info.context, self.job_pk)

    @strawberry.field(description="QUEUED, RUNNING, SUCCEEDED or FAILED: the job's status.")
    async def status(self, info: Info) -> JobStatusEnum:  # type: ignore[valid-type]
        job = await info.context.loaders.by_id(Job).load(self.job_pk)
        assert job is not None  # an import is deleted with its job
        return job.status

    @strawberry.field(description="Rows not imported (bad values, duplicates), by row number.")
    async def errors(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[LeadImportErrorType]:
        principal = require_principal(info)
        statement = select(LeadImportError).where(
            LeadImportError.tenant_id == principal.tenant_id,
            LeadImportError.import_id == self.pk,
        )
        return await paginate(
            info.context,
            statement,
            to_node=LeadImportErrorType.from_model,
            first=first,
            after=after,
            order=Ordering.by(LeadImportError.row_number),
        )

    @classmethod
    def from_model(cls, row: LeadImport) -> LeadImportType:
        return cls.from_row(row, columns=list(row.columns or []), job_pk=row.job_id)


async def load_import(context: Context, pk: uuid.UUID) -> LeadImportType | None:
    if context.principal is None:
        return None
    row = await context.session.scalar(
        readable_imports(context.principal).where(LeadImport.id == pk)
    )
    return LeadImportType.from_model(row) if row else None


register_node(LeadImportType)(load_import)
