"""Distribution rules: their validation, and which one a lead matches.

A rule matches a lead when each of its non-empty criteria holds: the lead's country is
one of `countries`, its region one of `regions` (case-insensitive), its postal code starts
with one of `postalPrefixes` (spaces ignored), and its score is at least `minLeadScore`.
The first active matching rule by `priority` (lowest first; ties by creation) decides.
Managing rules is for admins; admins and managers may read them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, String, any_, func, literal, or_, select
from sqlalchemy.orm import Session

from prm.auth.principal import Principal, Role
from prm.errors import Duplicate, Forbidden, InvalidInput, NotFound
from prm.leads.fields import country_codes, required_text, tags
from prm.leads.models import DistributionMode, DistributionRule, DistributionStrategy, Lead

MAX_SLA_HOURS = 24 * 365


@dataclass(frozen=True)
class RuleChanges:
    """Fields of a rule; None leaves a field as it is (or at its default on create)."""

    name: str | None = None
    priority: int | None = None
    mode: DistributionMode | None = None
    strategy: DistributionStrategy | None = None
    countries: Sequence[str] | None = None
    regions: Sequence[str] | None = None
    postal_prefixes: Sequence[str] | None = None
    capabilities: Sequence[str] | None = None
    min_tier_rank: int | None = None
    min_lead_score: int | None = None
    offer_sla_hours: int | None = None
    active: bool | None = None


def _require_admin(principal: Principal) -> None:
    if not principal.has_any(Role.ADMIN):
        raise Forbidden("only an admin may manage distribution rules")


def readable_rules(principal: Principal) -> Select[DistributionRule]:
    if not principal.has_any(Role.ADMIN, Role.MANAGER):
        raise Forbidden("only an admin or a manager may read distribution rules")
    return select(DistributionRule).where(DistributionRule.tenant_id == principal.tenant_id)


def _apply(rule: DistributionRule, changes: RuleChanges) -> None:
    if changes.name is not None:
        rule.name = required_text(changes.name, field="name")
    if changes.priority is not None:
        if not -1_000_000 <= changes.priority <= 1_000_000:
            raise InvalidInput("must be between -1000000 and 1000000", field="priority")
        rule.priority = changes.priority
    if changes.mode is not None:
        rule.mode = changes.mode
    if changes.strategy is not None:
        rule.strategy = changes.strategy
    if changes.countries is not None:
        rule.countries = list(country_codes(changes.countries, field="countries"))
    if changes.regions is not None:
        rule.regions = list(tags(changes.regions, field="regions", upper=True))
    if changes.postal_prefixes is not None:
        prefixes = tags(changes.postal_prefixes, field="postalPrefixes", upper=True)
        rule.postal_prefixes = sorted({prefix.replace(" ", "") for prefix in prefixes})
    if changes.capabilities is not None:
        rule.capabilities = list(tags(changes.capabilities, field="capabilities"))
    if changes.min_tier_rank is not None:
        rule.min_tier_rank = changes.min_tier_rank
    if changes.min_lead_score is not None:
        if not 0 <= changes.min_lead_score <= 100:
            raise InvalidInput("must be between 0 and 100", field="minLeadScore")
        rule.min_lead_score = changes.min_lead_score
    if changes.offer_sla_hours is not None:
        if not 1 <= changes.offer_sla_hours <= MAX_SLA_HOURS:
            raise InvalidInput(f"must be between 1 and {MAX_SLA_HOURS}", field="offerSlaHours")
        rule.offer_sla_hours = changes.offer_sla_hours
    if changes.active is not None:
        rule.active = changes.active


def _check_name_free(
    session: Session, tenant_id: uuid.UUID, name: str, exclude: uuid.UUID | None
) -> None:
    statement = select(DistributionRule.id).where(
        DistributionRule.tenant_id == tenant_id, DistributionRule.name == name
    )
    if exclude is not None:
        statement = statement.where(DistributionRule.id != exclude)
    existing = session.scalar(statement)
    if existing is not None:
        raise Duplicate(
            f"a rule named {name!r} exists",
            field="name",
            existing_key=f"DistributionRule:{existing}",
        )


def create_rule(session: Session, principal: Principal, changes: RuleChanges) -> DistributionRule:
    _require_admin(principal)
    if changes.name is None or changes.priority is None or changes.mode is None:
        raise InvalidInput("name, priority and mode are required", field="name")
    rule = DistributionRule(
        tenant_id=principal.tenant_id,
        strategy=DistributionStrategy.ROUND_ROBIN,
        countries=[],
        regions=[],
        postal_prefixes=[],
        capabilities=[],
        active=True,
        rr_cursor=0,
    )
    _apply(rule, changes)
    _check_name_free(session, principal.tenant_id, rule.name, None)
    session.add(rule)
    session.flush()
    return rule


def get_rule(
    session: Session, principal: Principal, rule_id: uuid.UUID, *, for_update: bool = False
) -> DistributionRule:
    statement = readable_rules(principal).where(DistributionRule.id == rule_id)
    if for_update:
        statement = statement.with_for_update()
    rule = session.scalar(statement)
    if rule is None:
        raise NotFound("no such distribution rule", field="id")
    return rule


def update_rule(
    session: Session, principal: Principal, rule_id: uuid.UUID, changes: RuleChanges
) -> DistributionRule:
    _require_admin(principal)
    rule = get_rule(session, principal, rule_id, for_update=True)
    _apply(rule, changes)
    if changes.name is not None:
        _check_name_free(session, principal.tenant_id, rule.name, rule.id)
    session.flush()
    return rule


def delete_rule(session: Session, principal: Principal, rule_id: uuid.UUID) -> DistributionRule:
    """Delete a rule. Leads it routed keep their state; a pooled one stays claimable by
    partners covering its territory (its rule's capability and tier terms are gone)."""
    _require_admin(principal)
    rule = get_rule(session, principal, rule_id, for_update=True)
    session.delete(rule)
    session.flush()
    return rule


def rule_matches(lead: Lead) -> list[ColumnElement[bool]]:
    """SQL conditions on `DistributionRule` for `lead`'s values."""
    rule = DistributionRule

    def one_of(column: Any, value: str | None) -> ColumnElement[bool]:
        unrestricted = func.cardinality(column) == 0
        if value is None:
            return unrestricted
        return or_(unrestricted, literal(value, String()) == any_(column))

    postal = lead.postal_code.replace(" ", "") if lead.postal_code else None
    postal_condition: ColumnElement[bool] = func.cardinality(rule.postal_prefixes) == 0
    if postal:
        prefix = (
            func.unnest(rule.postal_prefixes)
            .table_valued("value")
            .render_derived(name="rule_prefix")
        )
        postal_condition = or_(
            postal_condition,
            select(prefix.c.value)
            .where(func.starts_with(literal(postal, String()), prefix.c.value))
            .correlate_except(prefix)
            .exists(),
        )
    return [
        one_of(rule.countries, lead.country),
        one_of(rule.regions, lead.region.upper() if lead.region else None),
        postal_condition,
        or_(rule.min_lead_score.is_(None), rule.min_lead_score <= lead.score),
    ]


def matching_rule(session: Session, lead: Lead) -> DistributionRule | None:
    """The first active rule (by priority, then creation) whose criteria match `lead`."""
    rule: DistributionRule | None = session.scalar(
        select(DistributionRule)
        .where(
            DistributionRule.tenant_id == lead.tenant_id,
            DistributionRule.active.is_(True),
            *rule_matches(lead),
        )
        .order_by(DistributionRule.priority, DistributionRule.id)
        .limit(1)
    )
    return rule
