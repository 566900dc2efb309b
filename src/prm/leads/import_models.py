"""Tables of bulk lead import: the import (its file, progress and counts), the uploaded
file in chunks (so a worker on any machine can read it), the per-row error report, and
the natural keys of imported rows (so a re-run of a file creates no duplicates)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from prm.db.base import Base, TenantOwned, tenant_fk


class LeadImport(TenantOwned, Base):
    """One uploaded CSV file and what became of its rows. Progress columns are written
    from a side connection while the job's transaction is still open, so clients can
    watch them move; the job's status says whether the import committed."""

    __tablename__ = "lead_imports"
    __table_args__ = (
        tenant_fk("job_id", "jobs", "CASCADE"),
        tenant_fk("requested_by", "users", "SET NULL (requested_by)"),
        Index("ix_lead_imports_tenant_job", "tenant_id", "job_id"),
        Index("ix_lead_imports_tenant_sha256", "tenant_id", "file_sha256"),
    )

    job_id: Mapped[uuid.UUID] = mapped_column()
    requested_by: Mapped[uuid.UUID | None] = mapped_column()
    filename: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    phase: Mapped[str] = mapped_column(String(16), default="QUEUED")
    total_rows: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    imported_rows: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    duplicate_rows: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    error_rows: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    routed_rows: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    finished_at: Mapped[datetime | None] = mapped_column()


class LeadImportChunk(TenantOwned, Base):
    """A piece (up to 1 MiB) of an uploaded file, in order; deleted once imported."""

    __tablename__ = "lead_import_chunks"
    __table_args__ = (
        tenant_fk("import_id", "lead_imports", "CASCADE"),
        Index("uq_lead_import_chunks_seq", "tenant_id", "import_id", "seq", unique=True),
    )

    import_id: Mapped[uuid.UUID] = mapped_column()
    seq: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LeadImportError(TenantOwned, Base):
    """A row that was not imported: its row number (the header is row 1), the column at
    fault (None for the row as a whole), why; `code` INVALID or DUPLICATE."""

    __tablename__ = "lead_import_errors"
    __table_args__ = (
        tenant_fk("import_id", "lead_imports", "CASCADE"),
        Index("ix_lead_import_errors_import_row", "tenant_id", "import_id", "row_number", "id"),
    )

    import_id: Mapped[uuid.UUID] = mapped_column()
    row_number: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(16))
    column_name: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)


class LeadImportKey(TenantOwned, Base):
    """The natural key (SHA-256 of a row's normalised fields) of every imported lead: a
    row whose key is here was imported before and is skipped as a duplicate."""

    __tablename__ = "lead_import_keys"
    __table_args__ = (
        tenant_fk("lead_id", "leads", "CASCADE"),
        tenant_fk("import_id", "lead_imports", "SET NULL (import_id)"),
        Index("uq_lead_import_keys_key", "tenant_id", "natural_key", unique=True),
        Index("ix_lead_import_keys_lead", "tenant_id", "lead_id"),
    )

    natural_key: Mapped[bytes] = mapped_column(LargeBinary)
    lead_id: Mapped[uuid.UUID] = mapped_column()
    import_id: Mapped[uuid.UUID | None] = mapped_column()
