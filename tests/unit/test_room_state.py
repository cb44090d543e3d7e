"""Who sees and hears whom in a hearing room: lobby, caucus (背对背), mute, chat audience."""

from __future__ import annotations

from odr.services.hearing_room import Attendee
from signaling.room_state import RoomState

MEDIATOR = Attendee(1, 9, 1, "调解员", "mediator", "mediator")
CONSUMER = Attendee(1, 9, 2, "王芳", "consumer", "consumer")
REP = Attendee(1, 9, 3, "保险代表", "insurer_rep", "insurer")
REP2 = Attendee(1, 9, 4, "保险法务", "insurer_rep", "insurer")


def room(*people: Attendee) -> RoomState:
    state = RoomState()
    for person in people:
        state.arrive(person)
        state.admit(person.user_id)
    return state


def publishers(state: RoomState, uid: int) -> set[int]:
    return {pub for pub, _audio, _video in state.view(uid)}


def test_the_mediator_enters_parties_wait_in_the_lobby() -> None:
    state = RoomState()
    assert state.arrive(MEDIATOR).admitted
    assert not state.arrive(CONSUMER).admitted
    assert [m.user_id for m in state.lobby()] == [2]
    assert publishers(state, 1) == set() and publishers(state, 2) == set()
    # the lobby is shown to the mediator, not to the others
    assert [p["user_id"] for p in state.public(1)["participants"]] == [1, 2]
    state.arrive(REP)
    assert [p["user_id"] for p in state.public(2)["participants"]] == [1, 2]
    state.admit(2)
    assert publishers(state, 1) == {2} and publishers(state, 2) == {1}


def test_everyone_inside_sees_everyone_else() -> None:
    state = room(MEDIATOR, CONSUMER, REP)
    assert {uid: publishers(state, uid) for uid in (1, 2, 3)} == {1: {2, 3}, 2: {1, 3}, 3: {1, 2}}


def test_a_caucus_isolates_the_other_side_both_ways() -> None:
    state = room(MEDIATOR, CONSUMER, REP, REP2)
    state.caucus = "consumer"
    assert publishers(state, 1) == {2}
    assert publishers(state, 2) == {1}
    assert publishers(state, 3) == {4}  # the excluded side still sees its own side
    assert publishers(state, 4) == {3}
    assert state.public(3)["excluded"] and not state.public(2)["excluded"]
    state.caucus = None
    assert publishers(state, 3) == {1, 2, 4}


def test_a_muted_participant_is_heard_by_no_one() -> None:
    state = room(MEDIATOR, CONSUMER, REP)
    state.members[2].muted = True
    for uid in (1, 3):
        assert (2, False, True) in state.view(uid)
    assert (1, True, True) in state.view(3)


def test_chat_during_a_caucus_stays_with_its_side() -> None:
    state = room(MEDIATOR, CONSUMER, REP)
    assert state.chat_audience(state.members[2]) == "all"
    state.caucus = "insurer"
    assert state.chat_audience(state.members[1]) == "insurer"
    assert state.chat_audience(state.members[3]) == "insurer"
    assert state.chat_audience(state.members[2]) == "consumer"
    assert state.reads(state.members[1], "consumer")  # the mediator reads every side
    assert not state.reads(state.members[2], "insurer")
    assert not state.reads(state.members[3], "consumer")


def test_removed_people_need_the_mediator_again_and_a_reconnect_keeps_mute() -> None:
    state = room(MEDIATOR, CONSUMER, REP)
    state.members[2].muted = True
    state.depart(2)
    assert publishers(state, 1) == {3}
    assert state.arrive(CONSUMER).admitted and state.members[2].muted  # came back as it was
    state.expel(3)
    assert not state.arrive(REP).admitted
    assert state.expel(1) is None  # the mediator cannot be removed
