"""Channel programs, their ranked levels (benefits and entry criteria), and partners'
enrolments, as admins manage them; who may read what.

Services are synchronous (the evaluation worker shares them); GraphQL runs them with
`run_sync`. They never commit. Every id is looked up within the principal's tenant, so a
foreign id is NOT_FOUND. Level changes made here append to the history (ENROLLED, SET,
LEFT) and notify the partner in the same transaction; partners' tiers then follow their
levels (`program_benefits.sync_partner_tiers`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypedDict

from sqlalchemy import Select, delete, exists, false, select
from sqlalchemy.orm import Session

from prm.auth.principal import Principal, Role, own_partner
from prm.db.ids import new_id
from prm.errors import Conflict, Duplicate, Forbidden, InvalidInput, NotFound
from prm.money import Money
from prm.partners.models import Partner, PartnerTier
from prm.partners.notifications import notify_sync
from prm.partners.program_benefits import sync_partner_tiers
from prm.partners.program_evaluation import ENROLLED, LEVEL_CHANGED, auto_enrol
from prm.partners.program_metrics import MAX_QUARTERS, RATES
from prm.partners.program_models import (
    ChannelProgram,
    CriterionMetric,
    EnrolmentSource,
    LevelChange,
    LevelChangeKind,
    LevelCriterion,
    ProgramEnrolment,
    ProgramLevel,
)
from prm.tenants.models import Tenant

WITHDRAWN = "program.withdrawn"
MAX_PROGRAM_NAME = 200
MAX_LEVEL_NAME = 100
MAX_TEXT = 100
MAX_REASON = 1000
MAX_GRACE_DAYS = 365
MAX_PROTECTION_DAYS = 3650
MAX_CRITERIA = len(CriterionMetric)
MAX_LIST = 100
MAX_MINIMUM = Decimal("99999999999999")


# --- who reads what ------------------------------------------------------------------


def _is_reader(principal: Principal) -> bool:
    return principal.has_any(Role.ADMIN, Role.MANAGER)


def readable_programs(principal: Principal) -> Select[ChannelProgram]:
    """Admins and managers read every program; a partner user those its partner is
    enrolled in; anyone else none."""
    statement = select(ChannelProgram).where(ChannelProgram.tenant_id == principal.tenant_id)
    if _is_reader(principal):
        return statement
    partner_id = own_partner(principal)
    if partner_id is None:
        return statement.where(false())
    return statement.where(
        exists().where(
            ProgramEnrolment.tenant_id == principal.tenant_id,
            ProgramEnrolment.program_id == ChannelProgram.id,
            ProgramEnrolment.partner_id == partner_id,
        )
    )


def readable_enrolments(principal: Principal) -> Select[ProgramEnrolment]:
    """Admins and managers read every enrolment; a partner user its partner's."""
    statement = select(ProgramEnrolment).where(ProgramEnrolment.tenant_id == principal.tenant_id)
    if _is_reader(principal):
        return statement
    partner_id = own_partner(principal)
    if partner_id is None:
        return statement.where(false())
    return statement.where(ProgramEnrolment.partner_id == partner_id)


# --- validation ----------------------------------------------------------------------


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin may manage channel programs")


def _text(value: str | None, field: str, limit: int, *, required: bool) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise InvalidInput("must not be blank", field=field)
        return None
    if len(cleaned) > limit:
        raise InvalidInput(f"must be at most {limit} characters", field=field)
    return cleaned


def _name(value: str, field: str, limit: int) -> str:
    name = _text(value, field, limit, required=True)
    assert name is not None
    return name


def _countries(values: Sequence[str]) -> list[str]:
    if len(values) > MAX_LIST:
        raise InvalidInput(f"at most {MAX_LIST} countries", field="autoEnrolCountries")
    found: list[str] = []
    for value in values:
        code = (value or "").strip().upper()
        if len(code) != 2 or not code.isascii() or not code.isalpha():
            raise InvalidInput(
                f"{value!r} is not a two-letter country code", field="autoEnrolCountries"
            )
        if code not in found:
            found.append(code)
    return found


def _capabilities(values: Sequence[str]) -> list[str]:
    if len(values) > MAX_LIST:
        raise InvalidInput(f"at most {MAX_LIST} capabilities", field="autoEnrolCapabilities")
    found: list[str] = []
    for value in values:
        capability = _name(value, "autoEnrolCapabilities", MAX_TEXT)
        if capability not in found:
            found.append(capability)
    return found


def _grace_days(value: int) -> int:
    if not 0 <= value <= MAX_GRACE_DAYS:
        raise InvalidInput(f"must be between 0 and {MAX_GRACE_DAYS}", field="graceDays")
    return value


def _protection_days(value: int | None) -> int | None:
    if value is not None and not 0 <= value <= MAX_PROTECTION_DAYS:
        raise InvalidInput(
            f"must be between 0 and {MAX_PROTECTION_DAYS}", field="dealProtectionDays"
        )
    return value


def _reason(value: str | None, *, required: bool) -> str | None:
    return _text(value, "reason", MAX_REASON, required=required)


@dataclass(frozen=True)
class CriterionSpec:
    metric: CriterionMetric
    minimum: Decimal
    quarters: int = 4


def _criteria(specs: Sequence[CriterionSpec]) -> list[CriterionSpec]:
    """Valid criteria: each metric once, a minimum within the metric's range (rates
    0..1, SCORE 0..100, counts and money not negative), 1 to 8 trailing quarters."""
    if len(specs) > MAX_CRITERIA:
        raise InvalidInput(f"at most {MAX_CRITERIA} criteria", field="criteria")
    seen: set[CriterionMetric] = set()
    for index, spec in enumerate(specs):
        field = f"criteria.{index}"
        if spec.metric in seen:
            raise InvalidInput(f"{spec.metric.value} is given twice", field=f"{field}.metric")
        seen.add(spec.metric)
        try:
            minimum = Decimal(spec.minimum)
        except (InvalidOperation, ValueError, TypeError) as error:
            raise InvalidInput("is not a decimal number", field=f"{field}.minimum") from error
        if not minimum.is_finite() or minimum < 0 or minimum > MAX_MINIMUM:
            raise InvalidInput("must be a number, not negative", field=f"{field}.minimum")
        exponent = minimum.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -4:
            raise InvalidInput("has at most 4 decimal places", field=f"{field}.minimum")
        if spec.metric in RATES and minimum > 1:
            raise InvalidInput("a rate is between 0 and 1", field=f"{field}.minimum")
        if spec.metric is CriterionMetric.SCORE and minimum > 100:
            raise InvalidInput("a score is between 0 and 100", field=f"{field}.minimum")
        if not 1 <= spec.quarters <= MAX_QUARTERS:
            raise InvalidInput(f"must be between 1 and {MAX_QUARTERS}", field=f"{field}.quarters")
    return list(specs)


def tenant_currency(session: Session, tenant_id: uuid.UUID) -> str:
    """Level MDF allocations are in the tenant's default currency."""
    return session.scalar(select(Tenant.default_currency).where(Tenant.id == tenant_id)) or "USD"


def _allocation(session: Session, principal: Principal, money: Money | None) -> Decimal | None:
    if money is None:
        return None
    currency = tenant_currency(session, principal.tenant_id)
    if money.currency != currency:
        raise InvalidInput(
            f"must be in the tenant's currency, {currency}", field="mdfAllocation.currency"
        )
    return money.amount


# --- look-ups in the tenant -----------------------------------------------------------


def _program(
    session: Session, principal: Principal, program_id: uuid.UUID, field: str
) -> ChannelProgram:
    program = session.scalar(
        select(ChannelProgram).where(
            ChannelProgram.tenant_id == principal.tenant_id, ChannelProgram.id == program_id
        )
    )
    if program is None:
        raise NotFound("no such program", field=field)
    return program


def _level(session: Session, principal: Principal, level_id: uuid.UUID, field: str) -> ProgramLevel:
    level = session.scalar(
        select(ProgramLevel).where(
            ProgramLevel.tenant_id == principal.tenant_id, ProgramLevel.id == level_id
        )
    )
    if level is None:
        raise NotFound("no such level", field=field)
    return level


def _tier(session: Session, principal: Principal, tier_id: uuid.UUID | None) -> uuid.UUID | None:
    if tier_id is None:
        return None
    found = session.scalar(
        select(PartnerTier.id).where(
            PartnerTier.tenant_id == principal.tenant_id, PartnerTier.id == tier_id
        )
    )
    if found is None:
        raise NotFound("no such tier", field="tierId")
    return found


def _enrolment(session: Session, principal: Principal, enrolment_id: uuid.UUID) -> ProgramEnrolment:
    enrolment = session.scalar(
        select(ProgramEnrolment)
        .where(
            ProgramEnrolment.tenant_id == principal.tenant_id,
            ProgramEnrolment.id == enrolment_id,
        )
        .with_for_update()
    )
    if enrolment is None:
        raise NotFound("no such enrolment", field="enrolmentId")
    return enrolment


def levels_of(session: Session, tenant_id: uuid.UUID, program_id: uuid.UUID) -> list[ProgramLevel]:
    return list(
        session.scalars(
            select(ProgramLevel)
            .where(ProgramLevel.tenant_id == tenant_id, ProgramLevel.program_id == program_id)
            .order_by(ProgramLevel.rank)
        )
    )


# --- programs -------------------------------------------------------------------------


class ProgramChanges(TypedDict, total=False):
    """What `update_program` sets; absent keys stay."""

    name: str
    description: str | None
    active: bool
    auto_enrol: bool
    auto_enrol_countries: list[str]
    auto_enrol_capabilities: list[str]
    grace_days: int


def _check_program_name(
    session: Session, principal: Principal, name: str, own_id: uuid.UUID | None
) -> None:
    statement = select(ChannelProgram.id).where(
        ChannelProgram.tenant_id == principal.tenant_id, ChannelProgram.name == name
    )
    if own_id is not None:
        statement = statement.where(ChannelProgram.id != own_id)
    existing = session.scalar(statement)
    if existing is not None:
        raise Duplicate(
            "a program with this name exists",
            field="name",
            existing_key=f"ChannelProgram:{existing}",
        )


def create_program(
    session: Session,
    principal: Principal,
    *,
    name: str,
    description: str | None = None,
    active: bool = True,
    auto_enrol: bool = False,
    auto_enrol_countries: Sequence[str] = (),
    auto_enrol_capabilities: Sequence[str] = (),
    grace_days: int = 30,
) -> ChannelProgram:
    """A new program (admins). It has no levels yet, so auto-enrolment waits for the
    first one (`create_level` runs it)."""
    _require_admin(principal)
    program = ChannelProgram(
        tenant_id=principal.tenant_id,
        id=new_id(),
        name=_name(name, "name", MAX_PROGRAM_NAME),
        description=_text(description, "description", 10_000, required=False),
        active=active,
        auto_enrol=auto_enrol,
        auto_enrol_countries=_countries(auto_enrol_countries),
        auto_enrol_capabilities=_capabilities(auto_enrol_capabilities),
        grace_days=_grace_days(grace_days),
    )
    _check_program_name(session, principal, program.name, None)
    session.add(program)
    session.flush()
    return program


def update_program(
    session: Session, principal: Principal, program_id: uuid.UUID, changes: ProgramChanges
) -> ChannelProgram:
    """Change a program (admins). Turning `autoEnrol` on (or changing its rules while on,
    or reactivating it) enrols the matching partners at once."""
    _require_admin(principal)
    program = _program(session, principal, program_id, "id")
    if "name" in changes:
        program.name = _name(changes["name"], "name", MAX_PROGRAM_NAME)
        _check_program_name(session, principal, program.name, program.id)
    if "description" in changes:
        program.description = _text(changes["description"], "description", 10_000, required=False)
    if "active" in changes:
        program.active = changes["active"]
    if "auto_enrol" in changes:
        program.auto_enrol = changes["auto_enrol"]
    if "auto_enrol_countries" in changes:
        program.auto_enrol_countries = _countries(changes["auto_enrol_countries"])
    if "auto_enrol_capabilities" in changes:
        program.auto_enrol_capabilities = _capabilities(changes["auto_enrol_capabilities"])
    if "grace_days" in changes:
        program.grace_days = _grace_days(changes["grace_days"])
    session.flush()
    enrolled = (
        auto_enrol(session, principal.tenant_id, program_ids=[program.id])
        if program.auto_enrol and program.active
        else 0
    )
    if enrolled:
        sync_partner_tiers(session, principal.tenant_id)
    return program


# --- levels ---------------------------------------------------------------------------


class LevelChanges(TypedDict, total=False):
    """What `update_level` sets; absent keys stay; `criteria` replaces all of them."""

    name: str
    rank: int
    description: str | None
    tier_id: uuid.UUID | None
    mdf_eligible: bool
    mdf_allocation: Money | None
    deal_protection_days: int | None
    required_certification: str | None
    criteria: list[CriterionSpec]


def _check_level_slot(session: Session, level: ProgramLevel) -> None:
    for column, field, value in (
        (ProgramLevel.name, "name", level.name),
        (ProgramLevel.rank, "rank", level.rank),
    ):
        existing = session.scalar(
            select(ProgramLevel.id).where(
                ProgramLevel.tenant_id == level.tenant_id,
                ProgramLevel.program_id == level.program_id,
                column == value,
                ProgramLevel.id != level.id,
            )
        )
        if existing is not None:
            raise Duplicate(
                f"the program has a level with this {field}",
                field=field,
                existing_key=f"ProgramLevel:{existing}",
            )


def _replace_criteria(session: Session, level: ProgramLevel, specs: list[CriterionSpec]) -> None:
    session.execute(
        delete(LevelCriterion).where(
            LevelCriterion.tenant_id == level.tenant_id, LevelCriterion.level_id == level.id
        )
    )
    session.add_all(
        LevelCriterion(
            tenant_id=level.tenant_id,
            id=new_id(),
            level_id=level.id,
            metric=spec.metric,
            minimum=spec.minimum,
            quarters=spec.quarters,
        )
        for spec in specs
    )
    session.flush()


def create_level(
    session: Session,
    principal: Principal,
    *,
    program_id: uuid.UUID,
    name: str,
    rank: int,
    description: str | None = None,
    tier_id: uuid.UUID | None = None,
    mdf_eligible: bool = False,
    mdf_allocation: Money | None = None,
    deal_protection_days: int | None = None,
    required_certification: str | None = None,
    criteria: Sequence[CriterionSpec] = (),
) -> ProgramLevel:
    """A level of a program with its benefits and criteria (admins)."""
    _require_admin(principal)
    program = _program(session, principal, program_id, "programId")
    level = ProgramLevel(
        tenant_id=principal.tenant_id,
        id=new_id(),
        program_id=program.id,
        name=_name(name, "name", MAX_LEVEL_NAME),
        rank=rank,
        description=_text(description, "description", 10_000, required=False),
        tier_id=_tier(session, principal, tier_id),
        mdf_eligible=mdf_eligible,
        mdf_allocation=_allocation(session, principal, mdf_allocation),
        deal_protection_days=_protection_days(deal_protection_days),
        required_certification=_text(
            required_certification, "requiredCertification", MAX_TEXT, required=False
        ),
    )
    specs = _criteria(criteria)
    _check_level_slot(session, level)
    session.add(level)
    session.flush()
    _replace_criteria(session, level, specs)
    # A program that auto-enrols was waiting for its first level.
    if (
        program.auto_enrol
        and program.active
        and auto_enrol(session, principal.tenant_id, program_ids=[program.id])
    ):
        sync_partner_tiers(session, principal.tenant_id)
    return level


def update_level(
    session: Session, principal: Principal, level_id: uuid.UUID, changes: LevelChanges
) -> ProgramLevel:
    """Change a level (admins). Its partners stay on it; the next evaluation judges them
    by the new criteria, and tiers follow a changed `tierId` at once."""
    _require_admin(principal)
    level = _level(session, principal, level_id, "id")
    if "name" in changes:
        level.name = _name(changes["name"], "name", MAX_LEVEL_NAME)
    if "rank" in changes:
        level.rank = changes["rank"]
    if "description" in changes:
        level.description = _text(changes["description"], "description", 10_000, required=False)
    if "tier_id" in changes:
        level.tier_id = _tier(session, principal, changes["tier_id"])
    if "mdf_eligible" in changes:
        level.mdf_eligible = changes["mdf_eligible"]
    if "mdf_allocation" in changes:
        level.mdf_allocation = _allocation(session, principal, changes["mdf_allocation"])
    if "deal_protection_days" in changes:
        level.deal_protection_days = _protection_days(changes["deal_protection_days"])
    if "required_certification" in changes:
        level.required_certification = _text(
            changes["required_certification"], "requiredCertification", MAX_TEXT, required=False
        )
    specs = _criteria(changes["criteria"]) if "criteria" in changes else None
    _check_level_slot(session, level)
    session.flush()
    if specs is not None:
        _replace_criteria(session, level, specs)
    if "tier_id" in changes:
        sync_partner_tiers(session, principal.tenant_id)
    return level


def delete_level(session: Session, principal: Principal, level_id: uuid.UUID) -> ProgramLevel:
    """Delete a level no partner is on (else CONFLICT); its history lines keep its name."""
    _require_admin(principal)
    level = _level(session, principal, level_id, "id")
    in_use = session.scalar(
        select(
            exists().where(
                ProgramEnrolment.tenant_id == level.tenant_id,
                ProgramEnrolment.level_id == level.id,
            )
        )
    )
    if in_use:
        raise Conflict("partners are on this level: move them first", field="id")
    session.delete(level)
    session.flush()
    return level


# --- enrolments -----------------------------------------------------------------------


def _history(
    session: Session,
    principal: Principal,
    enrolment: ProgramEnrolment,
    kind: LevelChangeKind,
    *,
    before: ProgramLevel | None,
    after: ProgramLevel | None,
    reason: str | None,
) -> None:
    session.add(
        LevelChange(
            tenant_id=enrolment.tenant_id,
            id=new_id(),
            program_id=enrolment.program_id,
            partner_id=enrolment.partner_id,
            kind=kind,
            from_level_id=before.id if before else None,
            to_level_id=after.id if after else None,
            from_level_name=before.name if before else None,
            to_level_name=after.name if after else None,
            reason=reason,
            changed_by=principal.user_id,
        )
    )


def enrol_partner(
    session: Session,
    principal: Principal,
    *,
    program_id: uuid.UUID,
    partner_id: uuid.UUID,
    level_id: uuid.UUID | None = None,
) -> ProgramEnrolment:
    """Enrol a partner (admins) at `level_id`, by default the entry level (lowest rank).
    A partner already in the program is DUPLICATE."""
    _require_admin(principal)
    program = _program(session, principal, program_id, "programId")
    partner = session.scalar(
        select(Partner).where(Partner.tenant_id == principal.tenant_id, Partner.id == partner_id)
    )
    if partner is None:
        raise NotFound("no such partner", field="partnerId")
    levels = levels_of(session, principal.tenant_id, program.id)
    level: ProgramLevel | None
    if level_id is None:
        if not levels:
            raise InvalidInput("the program has no levels yet", field="programId")
        level = levels[0]
    else:
        level = next((row for row in levels if row.id == level_id), None)
        if level is None:
            raise NotFound("no such level in this program", field="levelId")
    existing = session.scalar(
        select(ProgramEnrolment.id).where(
            ProgramEnrolment.tenant_id == principal.tenant_id,
            ProgramEnrolment.program_id == program.id,
            ProgramEnrolment.partner_id == partner.id,
        )
    )
    if existing is not None:
        raise Duplicate(
            "the partner is already enrolled",
            field="partnerId",
            existing_key=f"ProgramEnrolment:{existing}",
        )
    enrolment = ProgramEnrolment(
        tenant_id=principal.tenant_id,
        id=new_id(),
        program_id=program.id,
        partner_id=partner.id,
        level_id=level.id,
        source=EnrolmentSource.ADMIN,
        enrolled_by=principal.user_id,
    )
    session.add(enrolment)
    session.flush()
    _history(
        session,
        principal,
        enrolment,
        LevelChangeKind.ENROLLED,
        before=None,
        after=level,
        reason=None,
    )
    notify_sync(
        session,
        principal.tenant_id,
        partner.id,
        ENROLLED,
        f"You joined the {program.name} program at level {level.name}.",
        {"programId": program.id, "enrolmentId": enrolment.id, "levelId": level.id},
    )
    sync_partner_tiers(session, principal.tenant_id, partner_ids=[partner.id])
    return enrolment


def set_partner_level(
    session: Session,
    principal: Principal,
    enrolment_id: uuid.UUID,
    *,
    level_id: uuid.UUID,
    reason: str,
) -> ProgramEnrolment:
    """Put an enrolled partner on a level of its program by hand (admins; a reason is
    required). The grace clock restarts: the next evaluation judges the new level."""
    _require_admin(principal)
    cleaned = _reason(reason, required=True)
    enrolment = _enrolment(session, principal, enrolment_id)
    levels = {
        level.id: level for level in levels_of(session, principal.tenant_id, enrolment.program_id)
    }
    target = levels.get(level_id)
    if target is None:
        raise NotFound("no such level in this program", field="levelId")
    if target.id == enrolment.level_id:
        raise InvalidInput("the partner is already on this level", field="levelId")
    before = levels.get(enrolment.level_id)
    program = _program(session, principal, enrolment.program_id, "enrolmentId")
    enrolment.level_id = target.id
    enrolment.below_criteria_since = None
    session.flush()
    _history(
        session,
        principal,
        enrolment,
        LevelChangeKind.SET,
        before=before,
        after=target,
        reason=cleaned,
    )
    notify_sync(
        session,
        principal.tenant_id,
        enrolment.partner_id,
        LEVEL_CHANGED,
        f"Your level in the {program.name} program is now {target.name}: {cleaned}",
        {
            "programId": program.id,
            "enrolmentId": enrolment.id,
            "fromLevelId": before.id if before else None,
            "toLevelId": target.id,
            "change": LevelChangeKind.SET.value,
        },
    )
    sync_partner_tiers(session, principal.tenant_id, partner_ids=[enrolment.partner_id])
    return enrolment


def withdraw_partner(
    session: Session, principal: Principal, enrolment_id: uuid.UUID, *, reason: str
) -> ProgramEnrolment:
    """Take a partner out of a program (admins; a reason is required). Its history stays;
    auto-enrolment does not bring it back (an admin may enrol it again). Its tier is left
    as it is unless another level it holds grants one."""
    _require_admin(principal)
    cleaned = _reason(reason, required=True)
    enrolment = _enrolment(session, principal, enrolment_id)
    program = _program(session, principal, enrolment.program_id, "enrolmentId")
    before = session.scalar(
        select(ProgramLevel).where(
            ProgramLevel.tenant_id == principal.tenant_id, ProgramLevel.id == enrolment.level_id
        )
    )
    _history(
        session,
        principal,
        enrolment,
        LevelChangeKind.LEFT,
        before=before,
        after=None,
        reason=cleaned,
    )
    notify_sync(
        session,
        principal.tenant_id,
        enrolment.partner_id,
        WITHDRAWN,
        f"You left the {program.name} program: {cleaned}",
        {"programId": program.id},
    )
    session.delete(enrolment)
    session.flush()
    sync_partner_tiers(session, principal.tenant_id, partner_ids=[enrolment.partner_id])
    return enrolment
