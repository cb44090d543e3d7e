"""Who the people of a case are to it: the two sides of the dispute, and the parties who sign.

One table from role to side and one from role to signing party; everything that asks "which
side is this user on" (offers, hearings, pages) asks here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from odr.domain.accounts import Role


class Side(StrEnum):
    """The two sides of a dispute."""

    CONSUMER = "consumer"
    INSURER = "insurer"

    @property
    def other(self) -> Side:
        return Side.INSURER if self is Side.CONSUMER else Side.CONSUMER


class Party(StrEnum):
    """The parties who sign an agreement: both sides and the mediator."""

    CONSUMER = "consumer"
    INSURER = "insurer"
    MEDIATOR = "mediator"


SIDE_OF_ROLE: Mapping[Role, Side] = MappingProxyType(
    {Role.CONSUMER: Side.CONSUMER, Role.INSURER_REP: Side.INSURER}
)
PARTY_OF_ROLE: Mapping[Role, Party] = MappingProxyType(
    {
        Role.CONSUMER: Party.CONSUMER,
        Role.INSURER_REP: Party.INSURER,
        Role.MEDIATOR: Party.MEDIATOR,
        Role.CENTRE_LEAD: Party.MEDIATOR,  # a lead signs as the case's mediator
    }
)


def side_of(role: Role) -> Side | None:
    """The side a role is on; ``None`` for staff who take no side."""
    return SIDE_OF_ROLE.get(role)
