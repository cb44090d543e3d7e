"""ICE that survives a busy node: UDP read in batches, consent answered late still counted.

Two things of asyncio and aioice end every connection of a node at once when its event loop is
busy (many hearings, page renders, a loaded machine), although media still flows:

- asyncio's selector loop reads one datagram per readable socket per turn of the loop. A media
  connection receives 80 to 200 packets a second on one socket, so once a turn takes more than
  a few milliseconds a standing queue builds up in the socket's kernel buffer and every packet
  waits behind it, the STUN messages of ICE too. `_read_batch` drains up to `BATCH` datagrams
  per turn (as libuv does): STUN is answered, and its answers seen, as soon as it is read
  (aioice handles STUN as it is read). Media then waits in aioice's queue instead of the
  kernel's: `_data_received` bounds it at `MAX_QUEUED` packets (a few seconds of a busy
  connection) and drops what comes beyond, as the kernel buffer would, so that an overloaded
  node's memory does not grow without end.
- aioice checks consent (RFC 7675) every 5 s with one request that must be answered within
  0.5 s, and ends the connection after six late answers in a row. A browser counts an answer
  that comes late. `_query_consent` waits for each answer (with the usual STUN retransmissions)
  up to 7.5 s and ends the connection when no answer at all came for
  `CONSENT_EXPIRY_SECONDS` — a peer that is really gone still goes after about 30 s.

`harden_ice()` installs all three in the process (the server at start; the soak's clients, which
are aiortc too, do the same). The private names used are listed in `PRIVATE_NAMES` and checked
by the tests (aiortc is pinned, and with it aioice).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from asyncio import selector_events
from typing import Any

from aioice import stun
from aioice.ice import CONSENT_INTERVAL, Connection

log = logging.getLogger("odr.signaling.ice")

#: Datagrams read from one socket per turn of the loop at most (fairness between sockets).
BATCH = 64
#: Media packets waiting in one connection's queue at most; more are dropped.
MAX_QUEUED = 400
#: Retransmissions of one consent check (sent at 0, 0.5, 1.5 and 3.5 s; answered by 7.5 s).
CONSENT_RETRANSMISSIONS = 3
#: No answer to any consent check for this long: the peer is gone (RFC 7675's 30 s).
CONSENT_EXPIRY_SECONDS = 30.0

_Transport: Any = getattr(selector_events, "_SelectorDatagramTransport")  # noqa: B009

#: What of asyncio and aioice this module relies on (a test checks each name).
PRIVATE_NAMES: dict[Any, tuple[str, ...]] = {
    _Transport: ("_read_ready", "_sock", "_protocol", "_conn_lost", "_fatal_error", "max_size"),
    Connection: (
        "query_consent",
        "data_received",
        "_queue",
        "_nominated",
        "_query_consent_task",
        "remote_password",
        "build_request",
        "close",
    ),
}


def _read_batch(self: Any) -> None:
    """`_SelectorDatagramTransport._read_ready`, for up to `BATCH` datagrams."""
    for _ in range(BATCH):
        if self._conn_lost:
            return
        try:
            data, addr = self._sock.recvfrom(self.max_size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._protocol.error_received(exc)
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on datagram transport")
            return
        else:
            self._protocol.datagram_received(data, addr)


def _data_received(self: Any, data: bytes, component: int) -> None:
    """`aioice.Connection.data_received` with a bounded queue."""
    if self._queue.qsize() < MAX_QUEUED:
        self._queue.put_nowait((data, component))


async def _query_consent(self: Any) -> None:
    """`aioice.Connection.query_consent` (RFC 7675) counting answers that come late."""
    assert self.remote_password is not None
    answered = time.monotonic()
    while True:
        # randomised between 0.8 and 1.2 times the interval, as aioice does
        await asyncio.sleep(CONSENT_INTERVAL * (0.8 + 0.4 * random.random()))  # noqa: S311
        for pair in list(self._nominated.values()):
            request = self.build_request(pair, nominate=False)
            try:
                await pair.protocol.request(
                    request,
                    pair.remote_addr,
                    integrity_key=self.remote_password.encode("utf8"),
                    retransmissions=CONSENT_RETRANSMISSIONS,
                )
                answered = time.monotonic()
            except stun.TransactionError:
                pass
        if time.monotonic() - answered > CONSENT_EXPIRY_SECONDS:
            log.info("ICE consent expired: no answer for %.0f s", time.monotonic() - answered)
            self._query_consent_task = None
            await self.close()
            return


_read_batch.hardened = True  # type: ignore[attr-defined]
_query_consent.hardened = True  # type: ignore[attr-defined]
_data_received.hardened = True  # type: ignore[attr-defined]


def harden_ice() -> None:
    """Install both in this process (idempotent). Transports and connections made from now on
    use them."""
    _Transport._read_ready = _read_batch
    Connection.query_consent = _query_consent  # type: ignore[method-assign]
    Connection.data_received = _data_received  # type: ignore[method-assign]


def hardened() -> bool:
    return all(
        getattr(method, "hardened", False)
        for method in (_Transport._read_ready, Connection.query_consent, Connection.data_received)
    )
