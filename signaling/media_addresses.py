"""Which local addresses the relay offers as ICE host candidates (``ODR_MEDIA_ADDRESSES``).

aioice gathers every interface's addresses except loopback; a host whose only interface is the
loopback (a sandbox, a CI runner) then offers none, and no browser can reach it. Setting the
addresses replaces aioice's list for every peer connection of this process.
"""

from __future__ import annotations

from collections.abc import Sequence

import aioice.ice

_ORIGINAL = aioice.ice.get_host_addresses


def use_media_addresses(addresses: Sequence[str]) -> None:
    if not addresses:
        aioice.ice.get_host_addresses = _ORIGINAL
        return
    fixed = list(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in fixed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses
