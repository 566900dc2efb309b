"""The CRM enums as the API names them."""

from __future__ import annotations

import strawberry

from prm.crm.models import Channel, Direction, OpportunityStage

OpportunityStageEnum = strawberry.enum(OpportunityStage, name="OpportunityStage")
ChannelEnum = strawberry.enum(Channel, name="Channel")
DirectionEnum = strawberry.enum(Direction, name="Direction")
