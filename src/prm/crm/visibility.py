"""Who may see and change which CRM records: the one place these rules live. Lists,
DataLoaders, `node(id:)` and mutations all start from the `readable_*` statements or the
`*_visible` conditions here, so a rule changed here changes everywhere.

- Tenant staff (ADMIN, MANAGER, EMPLOYEE, and API clients holding those roles) see and
  edit every account, contact, opportunity and activity of their tenant.
- A partner user (PARTNER_ADMIN, PARTNER_REP) sees what is linked to its partner: accounts
  whose `partner_id` is theirs, opportunities whose `partner_id` is theirs, contacts
  through their account, and activities through their opportunity or, when an activity
  concerns no opportunity, through its account. It creates and edits such records only,
  and what it creates belongs to its partner.
- Deleting and merging are for ADMIN and MANAGER.

Anything else is invisible: absent from lists, `null` as a node, `NOT_FOUND` to mutations.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true

from prm.auth.principal import Principal, Role, is_staff, own_partner
from prm.crm.models import Account, Activity, Contact, Opportunity
from prm.errors import Forbidden


def account_visible(principal: Principal) -> ColumnElement[bool]:
    if is_staff(principal):
        return true()
    partner = own_partner(principal)
    return false() if partner is None else Account.partner_id == partner


def opportunity_visible(principal: Principal) -> ColumnElement[bool]:
    if is_staff(principal):
        return true()
    partner = own_partner(principal)
    return false() if partner is None else Opportunity.partner_id == partner


def contact_visible(principal: Principal) -> ColumnElement[bool]:
    if is_staff(principal):
        return true()
    partner = own_partner(principal)
    if partner is None:
        return false()
    return (
        select(Account.id)
        .where(
            Account.tenant_id == Contact.tenant_id,
            Account.id == Contact.account_id,
            Account.partner_id == partner,
        )
        .exists()
    )


def activity_visible(principal: Principal) -> ColumnElement[bool]:
    if is_staff(principal):
        return true()
    partner = own_partner(principal)
    if partner is None:
        return false()
    through_opportunity = (
        select(Opportunity.id)
        .where(
            Opportunity.tenant_id == Activity.tenant_id,
            Opportunity.id == Activity.opportunity_id,
            Opportunity.partner_id == partner,
        )
        .exists()
    )
    through_account = (
        select(Account.id)
        .where(
            Account.tenant_id == Activity.tenant_id,
            Account.id == Activity.account_id,
            Account.partner_id == partner,
        )
        .exists()
    )
    return or_(
        and_(Activity.opportunity_id.is_not(None), through_opportunity),
        and_(Activity.opportunity_id.is_(None), through_account),
    )


def readable_accounts(principal: Principal) -> Select[Account]:
    return select(Account).where(
        Account.tenant_id == principal.tenant_id, account_visible(principal)
    )


def readable_contacts(principal: Principal) -> Select[Contact]:
    return select(Contact).where(
        Contact.tenant_id == principal.tenant_id, contact_visible(principal)
    )


def readable_opportunities(principal: Principal) -> Select[Opportunity]:
    return select(Opportunity).where(
        Opportunity.tenant_id == principal.tenant_id, opportunity_visible(principal)
    )


def readable_activities(principal: Principal) -> Select[Activity]:
    return select(Activity).where(
        Activity.tenant_id == principal.tenant_id, activity_visible(principal)
    )


def require_writer(principal: Principal) -> None:
    """Staff, or a partner user acting for its partner, may create and edit CRM records."""
    if not is_staff(principal) and own_partner(principal) is None:
        raise Forbidden("only tenant staff and partner users may change CRM records")


def require_manager(principal: Principal) -> None:
    """Deleting and merging records is for admins and managers."""
    if not principal.has_any(Role.ADMIN, Role.MANAGER):
        raise Forbidden("only an admin or a manager may delete or merge CRM records")
