"""The `programs.evaluate` job: auto-enrolment, then every enrolment of the tenant's
active programs judged against its program's level criteria, promoted or demoted.

Asked for by `metrics.recompute` after a QUARTER's partner scorecards (the figures
criteria read, see `program_metrics`). Per enrolment:

- the highest level whose criteria all hold (no criteria: it holds) is above the current
  one → promoted now;
- the current level holds → `below_criteria_since` is cleared;
- otherwise `below_criteria_since` is set (when not yet), and once the program's
  `grace_days` have passed since then the partner is demoted to the highest level that
  holds, at least the entry level (the lowest rank).

Each change appends a `LevelChange` (PROMOTED/DEMOTED, its reason naming the criteria
met or missed) and notifies the partner (`program.level_changed`), then partners' tiers
follow their levels (`program_benefits`). Running it again changes no level, history or
notification: every step compares with what is stored.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import any_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from prm.auth.principal import Principal
from prm.db.ids import new_id
from prm.partners.models import Partner
from prm.partners.notifications import notify_sync
from prm.partners.program_benefits import sync_partner_tiers
from prm.partners.program_metrics import (
    CriterionValue,
    certifications_statement,
    criterion_values,
    criterion_values_statement,
)
from prm.partners.program_models import (
    ChannelProgram,
    EnrolmentSource,
    LevelChange,
    LevelChangeKind,
    ProgramEnrolment,
    ProgramLevel,
)

PROGRAMS_EVALUATE = "programs.evaluate"
LEVEL_CHANGED = "program.level_changed"
ENROLLED = "program.enrolled"
MAX_REASON = 1000


def entry_levels(tenant_id: uuid.UUID) -> Any:
    """Subquery: each program's entry level (lowest rank)."""
    return (
        select(ProgramLevel.program_id, ProgramLevel.id.label("level_id"), ProgramLevel.name)
        .where(ProgramLevel.tenant_id == tenant_id)
        .ext(distinct_on(ProgramLevel.program_id))
        .order_by(ProgramLevel.program_id, ProgramLevel.rank)
        .subquery()
    )


def auto_enrol(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    program_ids: Iterable[uuid.UUID] | None = None,
) -> int:
    """Enrol, at the entry level, every partner matching an active auto-enrol program's
    countries and capabilities (empty: any; a partner must have all the capabilities)
    that is not enrolled yet and was never withdrawn from it by an admin (a withdrawal
    is respected; an admin may enrol it again). Set-based: one SELECT of the candidates,
    one INSERT of the enrolments, one of their history. Returns partners enrolled."""
    entry = entry_levels(tenant_id)
    enrolled = exists().where(
        ProgramEnrolment.tenant_id == tenant_id,
        ProgramEnrolment.program_id == ChannelProgram.id,
        ProgramEnrolment.partner_id == Partner.id,
    )
    withdrawn = exists().where(
        LevelChange.tenant_id == tenant_id,
        LevelChange.program_id == ChannelProgram.id,
        LevelChange.partner_id == Partner.id,
        LevelChange.kind == LevelChangeKind.LEFT,
    )
    candidates = (
        select(ChannelProgram.id, ChannelProgram.name, Partner.id, entry.c.level_id, entry.c.name)
        .select_from(ChannelProgram)
        .join(entry, entry.c.program_id == ChannelProgram.id)
        .join(Partner, Partner.tenant_id == ChannelProgram.tenant_id)
        .where(
            ChannelProgram.tenant_id == tenant_id,
            ChannelProgram.auto_enrol.is_(True),
            ChannelProgram.active.is_(True),
            or_(
                func.cardinality(ChannelProgram.auto_enrol_countries) == 0,
                Partner.country == any_(ChannelProgram.auto_enrol_countries),
            ),
            or_(
                func.cardinality(ChannelProgram.auto_enrol_capabilities) == 0,
                Partner.capabilities.op("@>")(ChannelProgram.auto_enrol_capabilities),
            ),
            ~enrolled,
            ~withdrawn,
        )
        .order_by(ChannelProgram.id, Partner.id)
    )
    if program_ids is not None:
        candidates = candidates.where(ChannelProgram.id.in_(list(program_ids)))
    rows = session.execute(candidates).all()
    if not rows:
        return 0
    inserted = session.execute(
        insert(ProgramEnrolment)
        .values(
            [
                {
                    "tenant_id": tenant_id,
                    "id": new_id(),
                    "program_id": program_id,
                    "partner_id": partner_id,
                    "level_id": level_id,
                    "source": EnrolmentSource.AUTO,
                }
                for program_id, _, partner_id, level_id, _ in rows
            ]
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "program_id", "partner_id"])
        .returning(ProgramEnrolment.program_id, ProgramEnrolment.partner_id)
    ).all()
    done = {(program_id, partner_id) for program_id, partner_id in inserted}
    kept = [row for row in rows if (row[0], row[2]) in done]
    if kept:
        session.add_all(
            LevelChange(
                tenant_id=tenant_id,
                id=new_id(),
                program_id=program_id,
                partner_id=partner_id,
                kind=LevelChangeKind.ENROLLED,
                to_level_id=level_id,
                to_level_name=level_name,
                reason="auto-enrolled: matches the program's rules",
            )
            for program_id, _, partner_id, level_id, level_name in kept
        )
        session.flush()
        for _, program_name, partner_id, level_id, level_name in kept:
            notify_sync(
                session,
                tenant_id,
                partner_id,
                ENROLLED,
                f"You joined the {program_name} program at level {level_name}.",
                {"levelId": level_id},
            )
    return len(kept)


def _holds(
    level: ProgramLevel,
    values: Sequence[CriterionValue],
    certified: dict[uuid.UUID, bool],
) -> bool:
    if level.required_certification and not certified.get(level.id, False):
        return False
    return all(value.met for value in values)


def _explain(
    level: ProgramLevel, values: Sequence[CriterionValue], certified: dict[uuid.UUID, bool]
) -> str:
    parts = [value.describe() for value in values]
    if level.required_certification:
        held = "held" if certified.get(level.id, False) else "not held"
        parts.append(f"certification {level.required_certification} {held}")
    return "; ".join(parts) if parts else "no criteria"


def evaluate_programs(
    session: Session, tenant_id: uuid.UUID, *, now: datetime | None = None
) -> dict[str, int]:
    """Auto-enrol, then promote, flag or demote every enrolment of the tenant's active
    programs (see the module doc). Returns counts of what changed."""
    now = now or datetime.now(UTC)
    enrolled = auto_enrol(session, tenant_id)
    programs = {
        program.id: program
        for program in session.scalars(
            select(ChannelProgram).where(
                ChannelProgram.tenant_id == tenant_id, ChannelProgram.active.is_(True)
            )
        )
    }
    if not programs:
        return {"enrolled": enrolled, "promoted": 0, "demoted": 0, "flagged": 0}
    enrolments = list(
        session.scalars(
            select(ProgramEnrolment)
            .where(
                ProgramEnrolment.tenant_id == tenant_id,
                ProgramEnrolment.program_id.in_(list(programs)),
            )
            .order_by(ProgramEnrolment.id)
            .with_for_update()
        )
    )
    levels_of: dict[uuid.UUID, list[ProgramLevel]] = defaultdict(list)
    for level in session.scalars(
        select(ProgramLevel)
        .where(ProgramLevel.tenant_id == tenant_id, ProgramLevel.program_id.in_(list(programs)))
        .order_by(ProgramLevel.program_id, ProgramLevel.rank)
    ):
        levels_of[level.program_id].append(level)
    values: dict[tuple[uuid.UUID, uuid.UUID], list[CriterionValue]] = defaultdict(list)
    for value in criterion_values(session.execute(criterion_values_statement(tenant_id, now))):
        values[(value.enrolment_id, value.level_id)].append(value)
    certified: dict[uuid.UUID, dict[uuid.UUID, bool]] = defaultdict(dict)
    for row in session.execute(certifications_statement(tenant_id, now)):
        certified[row.enrolment_id][row.level_id] = bool(row.held)

    counts = {"enrolled": enrolled, "promoted": 0, "demoted": 0, "flagged": 0}
    for enrolment in enrolments:
        program = programs[enrolment.program_id]
        levels = levels_of[enrolment.program_id]
        by_id = {level.id: level for level in levels}
        current = by_id.get(enrolment.level_id)
        if current is None or not levels:
            continue
        mine = certified[enrolment.id]

        def criteria(level: ProgramLevel, enrolment_id: uuid.UUID = enrolment.id) -> list[Any]:
            return values[(enrolment_id, level.id)]

        holding = [level for level in levels if _holds(level, criteria(level), mine)]
        best = holding[-1] if holding else None
        if best is not None and best.rank > current.rank:
            reason = f"meets the criteria of {best.name}: {_explain(best, criteria(best), mine)}"
            _change(session, enrolment, program, current, best, LevelChangeKind.PROMOTED, reason)
            counts["promoted"] += 1
        elif current in holding:
            enrolment.below_criteria_since = None
        elif enrolment.below_criteria_since is None:
            enrolment.below_criteria_since = now
            counts["flagged"] += 1
        elif now >= enrolment.below_criteria_since + timedelta(days=program.grace_days):
            target = best if best is not None else levels[0]
            if target.rank < current.rank:
                since = enrolment.below_criteria_since.date().isoformat()
                reason = (
                    f"below the criteria of {current.name} since {since}, past the "
                    f"{program.grace_days}-day grace period: "
                    f"{_explain(current, criteria(current), mine)}"
                )
                _change(
                    session, enrolment, program, current, target, LevelChangeKind.DEMOTED, reason
                )
                enrolment.below_criteria_since = None if target in holding else now
                counts["demoted"] += 1
    session.flush()
    if enrolments:
        session.execute(
            update(ProgramEnrolment)
            .where(
                ProgramEnrolment.tenant_id == tenant_id,
                ProgramEnrolment.id.in_([enrolment.id for enrolment in enrolments]),
            )
            .values(evaluated_at=now)
            .execution_options(synchronize_session=False)
        )
    sync_partner_tiers(session, tenant_id)
    return counts


def _change(
    session: Session,
    enrolment: ProgramEnrolment,
    program: ChannelProgram,
    current: ProgramLevel,
    target: ProgramLevel,
    kind: LevelChangeKind,
    reason: str,
) -> None:
    enrolment.level_id = target.id
    enrolment.below_criteria_since = None
    session.add(
        LevelChange(
            tenant_id=enrolment.tenant_id,
            id=new_id(),
            program_id=enrolment.program_id,
            partner_id=enrolment.partner_id,
            kind=kind,
            from_level_id=current.id,
            to_level_id=target.id,
            from_level_name=current.name,
            to_level_name=target.name,
            reason=reason[:MAX_REASON],
        )
    )
    verb = "promoted" if kind is LevelChangeKind.PROMOTED else "demoted"
    notify_sync(
        session,
        enrolment.tenant_id,
        enrolment.partner_id,
        LEVEL_CHANGED,
        f"You were {verb} from {current.name} to {target.name} in the {program.name} "
        f"program: {reason}",
        {
            "programId": program.id,
            "enrolmentId": enrolment.id,
            "fromLevelId": current.id,
            "toLevelId": target.id,
            "change": kind.value,
        },
    )


def run_evaluation(session: Session, principal: Principal) -> dict[str, object]:
    """The `programs.evaluate` job: every active program of the principal's tenant."""
    counts = evaluate_programs(session, principal.tenant_id)
    return dict(counts)
