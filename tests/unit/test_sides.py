"""One table from role to side, and one from role to signing party."""

from __future__ import annotations

from odr.domain.accounts import Role
from odr.domain.sides import PARTY_OF_ROLE, Party, Side, side_of


def test_sides() -> None:
    assert side_of(Role.CONSUMER) is Side.CONSUMER and side_of(Role.INSURER_REP) is Side.INSURER
    assert {side_of(r) for r in Role} - {Side.CONSUMER, Side.INSURER} == {None}
    assert Side.CONSUMER.other is Side.INSURER and Side.INSURER.other is Side.CONSUMER


def test_every_side_signs_as_its_party() -> None:
    for role, side in ((Role.CONSUMER, Side.CONSUMER), (Role.INSURER_REP, Side.INSURER)):
        assert PARTY_OF_ROLE[role].value == side.value
    assert PARTY_OF_ROLE[Role.CENTRE_LEAD] is Party.MEDIATOR
