"""Inputs and filters of deal registration."""

from __future__ import annotations

import strawberry
from sqlalchemy import Select

from prm.deals.models import DealRegistration
from prm.deals.service import RegistrationFields, normalise_registration
from prm.graphql.deals.types import RegistrationStatusEnum
from prm.graphql.relay import pk_of
from prm.graphql.scalars import MoneyInput


@strawberry.input
class RegisterDealInput:
    company_name: str
    contact_email: str | None = None
    estimated_value: MoneyInput | None = None
    product_interest: list[str] | None = None
    notes: str | None = None

    def fields(self) -> RegistrationFields:
        value = self.estimated_value
        return normalise_registration(
            company_name=self.company_name,
            contact_email=self.contact_email,
            estimated_value=(value.amount, value.currency) if value else None,
            product_interest=self.product_interest,
            notes=self.notes,
        )


@strawberry.input
class DealRegistrationFilter:
    status: RegistrationStatusEnum | None = None  # type: ignore[valid-type]
    partner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Staff: one partner's registrations."
    )
    has_conflicts: bool | None = None

    def apply(self, statement: Select[DealRegistration]) -> Select[DealRegistration]:
        if self.status is not None:
            statement = statement.where(DealRegistration.status == self.status)
        if self.partner_id is not None:
            partner = pk_of(self.partner_id, "Partner")
            statement = statement.where(
                DealRegistration.partner_id == partner if partner else DealRegistration.id.is_(None)
            )
        if self.has_conflicts is not None:
            statement = statement.where(
                DealRegistration.conflict_count > 0
                if self.has_conflicts
                else DealRegistration.conflict_count == 0
            )
        return statement
