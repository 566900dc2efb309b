"""The `leads.import` job: stage an uploaded CSV with COPY, de-duplicate and insert in
SQL, then route (see `prm.leads.importing` for the whole flow)."""

from __future__ import annotations

import csv
import hashlib
import io
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Engine, delete, func, select, text, update
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.db.ids import new_id
from prm.db.locks import LockSpace, lock_keys_sync
from prm.errors import DomainError, InvalidInput
from prm.leads.capture import FREE_MAIL
from prm.leads.fields import LeadFields, normalise_lead
from prm.leads.import_models import LeadImport, LeadImportChunk
from prm.leads.models import Lead
from prm.leads.routing import route_leads
from prm.leads.scoring import rescore

IMPORT_KIND = "leads.import"
CHUNK_BYTES = 1024 * 1024
STAGE_BATCH = 5_000
ROUTE_BATCH = 500
PROGRESS_EVERY = 10_000
STATEMENT_TIMEOUT = "600s"


class _ChunkStream(io.RawIOBase):
    """The stored file as a byte stream, one chunk fetched at a time."""

    def __init__(self, session: Session, record: LeadImport) -> None:
        self._session = session
        self._record = record
        self._seq = 0
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._pending and not self._done:
            data = self._session.scalar(
                select(LeadImportChunk.data).where(
                    LeadImportChunk.tenant_id == self._record.tenant_id,
                    LeadImportChunk.import_id == self._record.id,
                    LeadImportChunk.seq == self._seq,
                )
            )
            if data is None:
                self._done = True
            else:
                self._pending = bytes(data)
                self._seq += 1
        size = min(len(target), len(self._pending))
        target[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


_STAGE = "lead_import_stage"
_STAGE_COLUMNS = (
    "row_number", "lead_id", "event_id", "error_code", "error_column", "error_message",
    "company_name", "normalized_company", "contact_name", "email", "email_domain", "phone",
    "country", "region", "postal_code", "industry", "product_interest", "estimated_value",
    "currency", "source", "natural_key",
)  # fmt: skip
_STAGE_TYPES = (
    "int4", "uuid", "uuid", "text", "text", "text",
    "text", "text", "text", "text", "text", "text",
    "text", "text", "text", "text", "text[]", "numeric",
    "text", "text", "bytea",
)  # fmt: skip
_KWARGS = {
    "companyName": "company_name",
    "contactName": "contact_name",
    "email": "email",
    "phone": "phone",
    "country": "country",
    "region": "region",
    "postalCode": "postal_code_value",
    "industry": "industry",
    "source": "source",
}


def _error_column(field: str | None) -> str | None:
    if field is None:
        return None
    if field == "estimatedValue.currency":
        return "currency"
    return field.split(".", 1)[0]


def _natural_key(fields: LeadFields) -> bytes:
    parts = (
        fields.normalized_company,
        fields.email or "",
        fields.phone or "",
        fields.country or "",
        fields.postal_code or "",
        (fields.contact_name or "").casefold(),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def _stage_row(number: int, columns: list[str], record: list[str]) -> tuple[Any, ...]:
    """One staging row: the normalised fields, or the error of a bad record."""

    def failed(column: str | None, message: str) -> tuple[Any, ...]:
        return (number, None, None, "INVALID", column, message) + (None,) * 15

    if len(record) != len(columns):
        return failed(None, f"has {len(record)} fields; the header has {len(columns)}")
    values = dict(zip(columns, record, strict=True))
    kwargs: dict[str, Any] = {
        _KWARGS[name]: value for name, value in values.items() if name in _KWARGS
    }
    amount = (values.get("estimatedValue") or "").strip()
    currency = (values.get("currency") or "").strip()
    if amount and not currency:
        return failed("currency", "is required with estimatedValue")
    if currency and not amount:
        return failed("estimatedValue", "is required with currency")
    if amount:
        kwargs["estimated_value"] = (amount, currency)
    if values.get("productInterest"):
        kwargs["product_interest"] = values["productInterest"].split(";")
    try:
        fields = normalise_lead(**kwargs)
    except DomainError as error:
        return failed(_error_column(error.field), error.message)
    value = fields.estimated_value
    return (
        number, new_id(), new_id(), None, None, None,
        fields.company_name, fields.normalized_company, fields.contact_name, fields.email,
        fields.email_domain, fields.phone, fields.country, fields.region, fields.postal_code,
        fields.industry, list(fields.product_interest), value.amount if value else None,
        value.currency if value else None, fields.source, _natural_key(fields),
    )  # fmt: skip


def _staged_rows(session: Session, record: LeadImport) -> Iterator[tuple[Any, ...]]:
    text_stream = io.TextIOWrapper(
        io.BufferedReader(_ChunkStream(session, record), CHUNK_BYTES),
        encoding="utf-8-sig",
        newline="",
    )
    reader = csv.reader(text_stream, strict=False)
    columns = list(record.columns)
    number = 1
    try:
        next(reader)  # the header, checked at upload
        while True:
            number += 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield (number, None, None, "INVALID", None, f"is not valid CSV: {error}") + (
                    None,
                ) * 15
                continue
            if not values or not any(value.strip() for value in values):
                continue  # blank lines are not rows
            yield _stage_row(number, columns, values)
    finally:
        text_stream.close()


class _Progress:
    """Writes an import's progress in short transactions of its own, so clients see it
    while the job's transaction is still open."""

    def __init__(self, engine: Engine, record: LeadImport) -> None:
        self._engine = engine
        self._record = record

    def __call__(self, **values: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                text("SELECT set_config('prm.tenant_id', :tenant, true)"),
                {"tenant": str(self._record.tenant_id)},
            )
            conn.execute(
                update(LeadImport)
                .where(
                    LeadImport.tenant_id == self._record.tenant_id,
                    LeadImport.id == self._record.id,
                )
                .values(**values, updated_at=func.now())
            )


def _global_id_sql(type_name: str, column: str) -> str:
    """SQL for the Relay global id of `column` (base64 of `Type:uuid`, as `relay` encodes)."""
    return f"encode(convert_to('{type_name}:' || {column}::text, 'UTF8'), 'base64')"


_DUPLICATE_CHECKS: tuple[tuple[str | None, str, str], ...] = (
    # (column at fault, message prefix + existing id, FROM ... WHERE joining stage `s`)
    (
        "email",
        "'duplicates an existing lead ' || " + _global_id_sql("Lead", "x.id"),
        "leads x WHERE x.tenant_id = :tenant AND x.email = s.email AND x.status NOT IN "
        "('CONVERTED', 'LOST', 'DISQUALIFIED')",
    ),
    (
        "email",
        "'duplicates an existing contact ' || " + _global_id_sql("Contact", "x.id"),
        "contacts x WHERE x.tenant_id = :tenant AND lower(x.email) = s.email",
    ),
    (
        "companyName",
        "'duplicates an existing lead ' || " + _global_id_sql("Lead", "x.id"),
        "leads x WHERE x.tenant_id = :tenant AND x.normalized_company = s.normalized_company "
        "AND x.email_domain = s.email_domain AND x.status NOT IN "
        "('CONVERTED', 'LOST', 'DISQUALIFIED')",
    ),
    (
        "companyName",
        "'duplicates an existing account ' || " + _global_id_sql("Account", "x.id"),
        "accounts x WHERE x.tenant_id = :tenant AND x.normalized_name = s.normalized_company",
    ),
    (
        "email",
        "'duplicates an existing account ' || " + _global_id_sql("Account", "x.id"),
        "accounts x WHERE x.tenant_id = :tenant AND x.domain = s.email_domain "
        "AND NOT (s.email_domain = ANY(:free_mail))",
    ),
    (
        None,
        "'was imported before as lead ' || " + _global_id_sql("Lead", "x.lead_id"),
        "lead_import_keys x WHERE x.tenant_id = :tenant AND x.natural_key = s.natural_key",
    ),
)


def _deduplicate(session: Session, tenant_id: uuid.UUID) -> None:
    """Mark duplicates within the file, then against existing records, set-wise."""
    for index in ("natural_key", "email", "normalized_company, email_domain"):
        session.execute(text(f"CREATE INDEX ON {_STAGE} ({index})"))
    session.execute(text(f"ANALYZE {_STAGE}"))
    session.execute(
        text(
            f"""
            WITH firsts AS (
                SELECT row_number, least(
                    min(row_number) OVER (PARTITION BY natural_key),
                    CASE WHEN email IS NOT NULL
                         THEN min(row_number) OVER (PARTITION BY email) END,
                    CASE WHEN email_domain IS NOT NULL
                         THEN min(row_number) OVER (PARTITION BY normalized_company, email_domain)
                    END
                ) AS first
                FROM {_STAGE} WHERE error_message IS NULL
            )
            UPDATE {_STAGE} s
            SET error_code = 'DUPLICATE', error_message = 'duplicates row ' || f.first
            FROM firsts f
            WHERE f.row_number = s.row_number AND f.first < s.row_number
            """  # noqa: S608 - constant identifiers only
        )
    )
    for column, message, source in _DUPLICATE_CHECKS:
        session.execute(
            text(
                f"UPDATE {_STAGE} s SET error_code = 'DUPLICATE', error_column = :column, "  # noqa: S608
                f"error_message = {message} FROM {source} AND s.error_message IS NULL"
            ),
            {"tenant": tenant_id, "column": column, "free_mail": sorted(FREE_MAIL)},
        )


def _insert(session: Session, record: LeadImport) -> dict[str, int]:
    """Insert the good rows, their history and natural keys, and the error report."""
    params = {"tenant": record.tenant_id, "actor": record.requested_by, "import": record.id}
    ok = "error_message IS NULL"
    session.execute(
        text(
            f"""
            INSERT INTO leads (tenant_id, id, status, source, company_name, normalized_company,
                contact_name, email, email_domain, phone, country, region, postal_code,
                industry, product_interest, estimated_value, currency, score, created_by)
            SELECT :tenant, lead_id, 'NEW', source, company_name, normalized_company,
                contact_name, email, email_domain, phone, country, region, postal_code,
                industry, product_interest, estimated_value, currency, 0, :actor
            FROM {_STAGE} WHERE {ok} ORDER BY row_number
            """  # noqa: S608
        ),
        params,
    )
    session.execute(
        text(
            f"""
            INSERT INTO lead_events (tenant_id, id, lead_id, at, kind, to_status, actor_id, note)
            SELECT :tenant, event_id, lead_id, now(), 'CREATED', 'NEW', :actor,
                'imported from a file, row ' || row_number
            FROM {_STAGE} WHERE {ok}
            """  # noqa: S608
        ),
        params,
    )
    session.execute(
        text(
            f"""
            INSERT INTO lead_import_keys (tenant_id, id, natural_key, lead_id, import_id)
            SELECT :tenant, gen_random_uuid(), natural_key, lead_id, :import
            FROM {_STAGE} WHERE {ok}
            ON CONFLICT DO NOTHING
            """  # noqa: S608
        ),
        params,
    )
    session.execute(
        text(
            f"""
            INSERT INTO lead_import_errors
                (tenant_id, id, import_id, row_number, code, column_name, message)
            SELECT :tenant, gen_random_uuid(), :import, row_number, error_code, error_column,
                error_message
            FROM {_STAGE} WHERE NOT ({ok})
            """  # noqa: S608
        ),
        params,
    )
    counts = session.execute(
        text(
            f"""
            SELECT count(*) AS total,
                count(*) FILTER (WHERE {ok}) AS imported,
                count(*) FILTER (WHERE error_code = 'DUPLICATE') AS duplicates,
                count(*) FILTER (WHERE error_code = 'INVALID') AS errors
            FROM {_STAGE}
            """  # noqa: S608
        )
    ).one()
    return dict(counts._mapping)


def run_import(session: Session, principal: Principal, *, import_id: str) -> dict[str, Any]:
    """The `leads.import` job (see the module docstring). Returns the counts and timings."""
    record = session.get(LeadImport, (principal.tenant_id, uuid.UUID(import_id)))
    if record is None:
        raise InvalidInput("no such lead import", field="import_id")
    session.execute(text(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'"))
    lock_keys_sync(session, LockSpace.LEAD_IMPORT, [f"{principal.tenant_id}:lead-import"])
    progress = _Progress(session.get_bind(), record)  # type: ignore[arg-type]
    timings: dict[str, float] = {}
    started = time.perf_counter()
    progress(phase="STAGING", processed_rows=0)
    session.execute(
        text(
            f"""
            CREATE TEMPORARY TABLE {_STAGE} (
                row_number int PRIMARY KEY, lead_id uuid, event_id uuid, error_code text,
                error_column text, error_message text, company_name text,
                normalized_company text, contact_name text, email text, email_domain text,
                phone text, country text, region text, postal_code text, industry text,
                product_interest text[], estimated_value numeric, currency text, source text,
                natural_key bytea
            ) ON COMMIT DROP
            """
        )
    )
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    rows = _staged_rows(session, record)
    staged = 0
    copy_sql = f"COPY {_STAGE} ({', '.join(_STAGE_COLUMNS)}) FROM STDIN"
    while batch := list(islice(rows, STAGE_BATCH)):
        with cursor.copy(copy_sql) as copy:
            copy.set_types(list(_STAGE_TYPES))
            for row in batch:
                copy.write_row(row)
        before, staged = staged, staged + len(batch)
        if staged // PROGRESS_EVERY != before // PROGRESS_EVERY:
            progress(processed_rows=staged)
    cursor.close()
    timings["stage"] = time.perf_counter() - started

    mark = time.perf_counter()
    progress(phase="VALIDATING", processed_rows=staged, total_rows=staged)
    _deduplicate(session, record.tenant_id)
    counts = _insert(session, record)
    stage_ids = text(f"SELECT lead_id FROM {_STAGE} WHERE error_message IS NULL")  # noqa: S608
    rescore(session, record.tenant_id, Lead.id.in_(stage_ids.columns(lead_id=Lead.id.type)))
    timings["insert"] = time.perf_counter() - mark
    progress(
        phase="ROUTING",
        imported_rows=counts["imported"],
        duplicate_rows=counts["duplicates"],
        error_rows=counts["errors"],
    )

    mark = time.perf_counter()
    routed, after = 0, 0
    batch_sql = text(
        f"SELECT row_number, lead_id FROM {_STAGE} WHERE error_message IS NULL "  # noqa: S608
        "AND row_number > :after ORDER BY row_number LIMIT :limit"
    )
    while batch_rows := session.execute(batch_sql, {"after": after, "limit": ROUTE_BATCH}).all():
        after = batch_rows[-1][0]
        routed += route_leads(session, principal, [row[1] for row in batch_rows])
        progress(routed_rows=routed)
    timings["route"] = time.perf_counter() - mark

    session.execute(
        delete(LeadImportChunk).where(
            LeadImportChunk.tenant_id == record.tenant_id, LeadImportChunk.import_id == record.id
        )
    )
    record.phase = "DONE"
    record.total_rows = counts["total"]
    record.processed_rows = counts["total"]
    record.imported_rows = counts["imported"]
    record.duplicate_rows = counts["duplicates"]
    record.error_rows = counts["errors"]
    record.routed_rows = routed
    record.finished_at = datetime.now(UTC)
    session.flush()
    return {
        "importId": str(record.id),
        "totalRows": counts["total"],
        "importedRows": counts["imported"],
        "duplicateRows": counts["duplicates"],
        "errorRows": counts["errors"],
        "routedRows": routed,
        "seconds": {name: round(value, 3) for name, value in timings.items()},
    }
