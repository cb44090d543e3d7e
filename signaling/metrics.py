"""The hearings' figures for `odr.metrics`, read when scraped: the relays' integer totals
(`signaling.relay.MediaTotals`) and what the node holds now (hearings, participants,
forwarded streams). Nothing here runs on the media path."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from signaling.host import RoomHost
from signaling.relay import MediaTotals


class HearingCollector:
    def __init__(self, host: RoomHost, totals: MediaTotals) -> None:
        self.host = host
        self.totals = totals

    def collect(self) -> Iterator[Metric]:
        rooms = [room for room in list(self.host.rooms.values()) if not room.closed]
        relays = [room.relay for room in rooms]
        t = self.totals
        yield GaugeMetricFamily(
            "odr_hearings_live", "Hearings this node holds live", value=len(rooms)
        )
        yield GaugeMetricFamily(
            "odr_hearing_participants",
            "Participants with a media connection to this node",
            value=sum(relay.connections for relay in relays),
        )
        yield GaugeMetricFamily(
            "odr_relay_forwarded_streams",
            "Streams forwarded now from a publisher to a subscriber",
            value=sum(relay.forwarded_streams for relay in relays),
        )
        yield CounterMetricFamily(
            "odr_relay_packets_received",
            "RTP packets received from publishers",
            value=t.packets_in + sum(relay.packets_in_live() for relay in relays),
        )
        frames = CounterMetricFamily(
            "odr_relay_frames", "Encoded frames, by direction", labels=["direction"]
        )
        frames.add_metric(["in"], t.frames_in)
        frames.add_metric(["out"], t.frames_out)
        frames.add_metric(["dropped"], t.frames_dropped)
        yield frames
        octets = CounterMetricFamily(
            "odr_relay_bytes", "Bytes of encoded frames, by direction", labels=["direction"]
        )
        octets.add_metric(["in"], t.bytes_in)
        octets.add_metric(["out"], t.bytes_out)
        yield octets
        keyframes = CounterMetricFamily(
            "odr_relay_keyframe_requests",
            "Keyframe requests: sent to publishers, received from subscribers",
            labels=["direction"],
        )
        keyframes.add_metric(["to_publishers"], t.keyframe_requests)
        keyframes.add_metric(["from_subscribers"], t.keyframe_requests_received)
        yield keyframes
        nacks = CounterMetricFamily(
            "odr_relay_nacked_packets",
            "Lost packets asked for again (NACK): of publishers, by subscribers",
            labels=["direction"],
        )
        nacks.add_metric(["to_publishers"], t.nacks_sent)
        nacks.add_metric(["from_subscribers"], t.nacks_received)
        yield nacks
