"""The hearing room page (video, chat, the mediator's controls) and the recordings player.

Both pages are thin: who may see what is decided by `odr.services` (a stranger gets the 404
page, a supervisor may watch the recordings but not enter the room); the room itself runs in
``static/hearing.js`` over the hearing socket, the player in ``static/player.js``. Every text
the scripts show is rendered here, in the reader's language, into a JSON block of the page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from odr.domain.errors import Forbidden
from odr.domain.hearings import MAX_MINUTES_LENGTH
from odr.domain.sides import side_of
from odr.http.auth import csrf_token, require_user
from odr.http.keys import HEARING_ROOM, SCHEDULING, SETTINGS
from odr.http.params import path_id
from odr.services.accounts import UserInfo
from odr.services.hearing_room import MEDIATOR_SIDE
from odr.services.scheduling import HearingView
from odr.times import format_clock
from web.i18n import _
from web.rendering import render, use_language, zone_of

#: The roles that take part in a hearing beside its mediator.
MAX_CHAT_LENGTH = 2000  # as the socket protocol's


def setup_hearing_room_pages(app: web.Application) -> None:
    """Register the room and the recordings pages."""
    r = app.router
    r.add_get(r"/hearings/{hearing_id:\d+}/room", room_page, name="hearing_room")
    r.add_get(r"/hearings/{hearing_id:\d+}/recordings", recordings_page, name="hearing_recordings")


def _hearing_id(request: web.Request) -> int:
    return path_id(request, "hearing_id")


def _url(request: web.Request, name: str, **parts: str) -> str | None:
    """A named page's URL, or None while the page is not registered (built by others)."""
    resource = request.app.router.named_resources().get(name)
    return str(resource.url_for(**parts)) if resource is not None else None


def _case_url(request: web.Request, view: HearingView) -> str:
    url = _url(request, "case", case_id=str(view.case_id)) or f"/cases/{view.case_id}"
    return f"{url}#hearing-{view.id}"


def _side(user: UserInfo, view: HearingView) -> str | None:
    if user.id == view.mediator_id:
        return MEDIATOR_SIDE
    side = side_of(user.role)
    return side.value if side else None


# --- the room ------------------------------------------------------------------------------------


async def room_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    hearing_id = _hearing_id(request)
    view = await request.app[SCHEDULING].hearing(user.actor, hearing_id)  # 404 for strangers
    side = _side(user, view)
    if side is None:
        raise Forbidden("Only the parties and the mediator take part in a hearing.")
    await use_language(request)
    router = request.app.router
    ids = {"hearing_id": str(hearing_id)}
    config = {
        "hearing_id": hearing_id,
        "user_id": user.id,
        "side": side,
        "moderates": side == "mediator",
        "join_url": str(router["api.hearings.join"].url_for(**ids)),
        "chat_url": str(router["api.hearings.chat"].url_for(**ids)),
        "minutes_url": str(router["api.hearings.minutes"].url_for(**ids)),
        "case_url": _case_url(request, view),
        "csrf_token": await csrf_token(request),
        "max_chat": MAX_CHAT_LENGTH,
        "time_zone": request.app[SETTINGS].timezone,
    }
    context: dict[str, Any] = {
        "hearing": view,
        "side": side,
        "moderates": side == "mediator",
        "room_config": config,
        "room_texts": room_texts(),
        "case_url": config["case_url"],
        "check_url": _url(request, "hearing_check", **ids) or f"/hearings/{hearing_id}/check",
        "recordings_url": str(router["hearing_recordings"].url_for(**ids)),
        "max_chat": MAX_CHAT_LENGTH,
        "max_minutes": MAX_MINUTES_LENGTH,
    }
    return await render(request, "hearing_room.html", context)


def room_texts() -> dict[str, str]:
    """What hearing.js says, in the page's language ({name} marks a value filled in there)."""
    return {
        "role_mediator": _("Mediator"),
        "role_consumer": _("Consumer"),
        "role_insurer": _("Insurer"),
        "you": _("{name} (you)"),
        "muted": _("Microphone off"),
        "camera_off": _("Camera off"),
        "connecting_media": _("Connecting…"),
        "paused": _("Not shown during the private talk"),
        "away": _("Not connected"),
        "in_lobby": _("Waiting to be let in"),
        "present": _("In the room"),
        "mic_on": _("Turn microphone off"),
        "mic_off": _("Turn microphone on"),
        "cam_on": _("Turn camera off"),
        "cam_off": _("Turn camera on"),
        "admit": _("Let in"),
        "deny": _("Refuse"),
        "mute": _("Mute"),
        "remove": _("Remove"),
        "remove_confirm": _("Remove {name} from the hearing?"),
        "no_devices": _(
            "We could not use your camera or microphone. You are in the hearing, but the others "
            "cannot see or hear you. Allow this page to use them and reload, or use the chat."
        ),
        "no_camera": _("We could not use your camera. The others can hear you but not see you."),
        "no_microphone": _(
            "We could not use your microphone. The others can see you but not hear you."
        ),
        "reconnecting": _("The connection was lost. Reconnecting…"),
        "reconnected": _("You are connected again."),
        "quality_good": _("Connection good"),
        "quality_fair": _("Connection fair"),
        "quality_poor": _("Connection poor"),
        "quality_unknown": _("Connection: measuring…"),
        "quality_detail": _("round trip {rtt} ms, {loss}% lost"),
        "muted_by_mediator": _(
            "The mediator turned your microphone off. You can turn it on again."
        ),
        "caucus_started_consumer": _(
            "Private talk: the mediator is talking with the consumer side only."
        ),
        "caucus_started_insurer": _(
            "Private talk: the mediator is talking with the insurer side only."
        ),
        "caucus_ended": _("The private talk has ended. Everyone sees and hears each other again."),
        "admitted": _("The mediator let you in."),
        "removed": _("The mediator removed you from the hearing."),
        "denied": _("The mediator did not let you in to this hearing."),
        "replaced": _(
            "You opened this hearing in another window or device. This window has left it."
        ),
        "ended": _("The hearing has ended."),
        "left": _("You left the hearing. You can come back from the case page while it runs."),
        "chat_masked": _(
            "Personal numbers (ID card, bank card, mobile) in your message were hidden before "
            "anyone saw it."
        ),
        "chat_private": _("Private (caucus)"),
        "chat_failed": _(
            "Your message could not be sent yet. It will be sent when you are connected again."
        ),
        "minutes_saved": _("Minutes saved at {time}."),
        "minutes_unsaved": _("Changes not saved yet."),
        "minutes_failed": _("The minutes could not be saved. Please try again."),
        "error_generic": _("Something went wrong. Please try again."),
        "error_hearing_not_open": _("The hearing is not open to join now."),
        "error_consent_required": _("Please read and accept the recording notice first."),
        "error_in_lobby": _("Please wait until the mediator lets you in."),
        "error_not_moderator": _("Only the mediator may do this."),
        "error_rate_limited": _("Too many messages; please slow down."),
        "error_unsupported_version": _("This page is out of date. Please reload it."),
        "error_hearing_ended": _("The hearing has ended."),
        "error_hearings_at_capacity": _(
            "This server is holding as many hearings as it can right now. This page keeps "
            "trying to connect; please leave it open."
        ),
        "error_already_joined": _("You are already in this hearing."),
        "error_join_first": _("The connection to the hearing was lost. Please reload the page."),
        "error_malformed_message": _("This page is out of date. Please reload it."),
        "error_invalid_message": _("This page is out of date. Please reload it."),
        "error_unknown_message": _("This page is out of date. Please reload it."),
        "error_message_too_large": _("The message is too long. Please shorten it."),
        "error_bad_offer": _(
            "Your browser's video connection could not be set up. Please reload the page."
        ),
        "error_bad_candidate": _(
            "Your browser's video connection could not be set up. Please reload the page."
        ),
        "error_not_connected": _("The video connection is not ready yet. Please wait a moment."),
        "error_relay_closed": _("The hearing's video has stopped. Please reload the page."),
        "error_too_many_publishers": _("The hearing is full: no more cameras can be shown."),
        "error_unknown_participant": _("This person is no longer in the hearing."),
        "error_not_in_lobby": _("This person is not waiting to be let in."),
        "error_no_webrtc": _(
            "This browser cannot take part in video hearings. Please use a recent Chrome, Edge, "
            "Firefox or Safari."
        ),
    }


# --- the recordings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    id: int
    file: str
    sha256: str
    size: int
    started_at: datetime
    ended_at: datetime
    offset: float  # seconds from the first segment's start
    duration: float
    url: str
    from_label: str  # local clock time with seconds (segments are short)
    to_label: str


@dataclass(frozen=True)
class Track:
    """One participant's segments, in time order."""

    user_id: int
    name: str
    segments: list[Segment]


def group_segments(
    items: Sequence[Mapping[str, Any]],
    file_url: Callable[[int], str],
    zone: ZoneInfo,
    lang: str = "zh-CN",
) -> tuple[list[Track], float]:
    """The recordings grouped by participant on one timeline starting at the first segment,
    and the timeline's length in seconds. ``file_url(recording_id)`` is a segment's address."""
    if not items:
        return [], 0.0
    starts = [datetime.fromisoformat(i["started_at"]) for i in items]
    ends = [datetime.fromisoformat(i["ended_at"]) for i in items]
    origin = min(starts)
    tracks: dict[int, Track] = {}
    for item, start, end in zip(items, starts, ends, strict=True):
        track = tracks.setdefault(item["user_id"], Track(item["user_id"], item["name"], []))
        track.segments.append(
            Segment(
                id=item["id"],
                file=item["file"],
                sha256=item["sha256"],
                size=item["size"],
                started_at=start,
                ended_at=end,
                offset=(start - origin).total_seconds(),
                duration=max(0.0, (end - start).total_seconds()),
                url=file_url(item["id"]),
                from_label=format_clock(start, lang, zone, seconds=True),
                to_label=format_clock(end, lang, zone, seconds=True),
            )
        )
    for track in tracks.values():
        track.segments.sort(key=lambda s: (s.started_at, s.id))
    length = (max(ends) - origin).total_seconds()
    return sorted(tracks.values(), key=lambda t: t.name), length


async def recordings_page(request: web.Request) -> web.Response:
    user = await require_user(request)
    hearing_id = _hearing_id(request)
    view = await request.app[SCHEDULING].hearing(user.actor, hearing_id)  # 404 for strangers
    items = await request.app[HEARING_ROOM].recordings(user.actor, hearing_id)
    lang = await use_language(request)
    resource = request.app.router["api.hearings.recording_file"]

    def file_url(recording_id: int) -> str:
        return str(resource.url_for(hearing_id=str(hearing_id), recording_id=str(recording_id)))

    tracks, length = group_segments(items, file_url, zone_of(request), lang)
    player = {
        "length": length,
        "tracks": [
            {
                "user_id": t.user_id,
                "name": t.name,
                "segments": [
                    {"id": s.id, "url": s.url, "offset": s.offset, "duration": s.duration}
                    for s in t.segments
                ],
            }
            for t in tracks
        ],
    }
    return await render(
        request,
        "hearing_recordings.html",
        {
            "hearing": view,
            "tracks": tracks,
            "length": length,
            "player": player,
            "player_texts": {
                "play": _("Play"),
                "pause": _("Pause"),
                "no_recording": _("Nothing recorded at this moment"),
                "starts_at": _("Recorded from %(time)s on", time="{time}"),
                "cannot_play": _("This browser cannot play the recording; download it instead."),
            },
            "case_url": _case_url(request, view),
        },
    )
