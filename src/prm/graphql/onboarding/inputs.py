"""Inputs of the onboarding API."""

from __future__ import annotations

import strawberry

from prm.graphql.onboarding.types import OnboardingTaskKindEnum


@strawberry.input(description="A task of a program's onboarding checklist.")
class CreateOnboardingTaskInput:
    program_id: strawberry.ID
    name: str
    kind: OnboardingTaskKindEnum  # type: ignore[valid-type]
    description: str | None = None
    position: int = strawberry.field(default=0, description="0 to 10000; lower comes first.")
    requires_approval: bool = strawberry.field(
        default=True, description="False: a partner's submission completes it at once."
    )
    certification: str | None = strawberry.field(
        default=None,
        description="TRAINING only: complete while a partner user holds it unexpired.",
    )


@strawberry.input(description="Only the fields given change; a null certification removes it.")
class UpdateOnboardingTaskInput:
    name: str | None = strawberry.UNSET
    kind: OnboardingTaskKindEnum | None = strawberry.UNSET  # type: ignore[valid-type]
    description: str | None = strawberry.UNSET
    position: int | None = strawberry.UNSET
    requires_approval: bool | None = strawberry.UNSET
    certification: str | None = strawberry.UNSET
