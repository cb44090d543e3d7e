"""Benchmark: the forwarding relay (`signaling.relay.Relay`) against aiortc's decoding
`MediaRelay` (decode + encode per subscriber), in the same run; and the forwarding relay with
its metrics on (node totals, NACK counting, a scrape every second) against the same relay with
them off (``metrics_cpu_overhead``: CPU per delivered frame, on / off − 1).

The server side runs in its own process (its CPU time is read from `os.times()` there); the
synthetic clients (pre-encoded VP8 + Opus, receiving without decoding) run in this process.
Everything is on loopback. Hearings of ``--participants``; in each hearing the last participant
joins late and its time to the first video frame of each other participant is measured.

Added latency (video): the clients vary the pts steps of their frames pseudo-randomly, so a
receiver recognises which frame it got from the pattern of RTP timestamp steps (kept by both
servers) and looks up the frame's send time (same machine, same clock).

    .venv/bin/python bench/relay.py --participants 3 --seconds 10 --hearings 1

Prints a table, then one JSON object with the figures as the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def loopback_ice() -> None:
    """Everything runs on this machine: let ICE use 127.0.0.1 (aioice leaves it out)."""
    import aioice.ice

    aioice.ice.get_host_addresses = lambda **kwargs: ["127.0.0.1"]


# --- server process --------------------------------------------------------------------------


class MediaRelayServer:
    """The baseline: the same offer layout, answered by aiortc's normal receive path (decoded
    frames) and `MediaRelay` subscriptions that each sender encodes again."""

    def __init__(self) -> None:
        from aiortc.contrib.media import MediaRelay

        self.relay = MediaRelay()
        self.pcs: dict[str, Any] = {}
        self.tracks: dict[str, dict[str, Any]] = {}
        self.senders: dict[str, list[dict[str, Any]]] = {}
        self.shown: dict[str, list[tuple[str, bool, bool]]] = {}
        self.assigned: dict[tuple[str, int, str], str] = {}

    async def connect(self, name: str, offer: str) -> str:
        from aiortc import (
            RTCBundlePolicy,
            RTCConfiguration,
            RTCPeerConnection,
            RTCSessionDescription,
        )

        from signaling.media import codec_preferences

        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        pairs = offer.count("m=audio") - 1
        receivers = {k: pc.addTransceiver(k, direction="recvonly") for k in ("audio", "video")}
        slots = []
        for _ in range(pairs):
            slots.append(
                {k: pc.addTransceiver(k, direction="sendonly") for k in ("audio", "video")}
            )
        for t in [*receivers.values(), *(t for s in slots for t in s.values())]:
            t.setCodecPreferences(list(codec_preferences(t.kind)))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        self.pcs[name] = pc
        self.tracks[name] = {k: t.receiver.track for k, t in receivers.items()}
        self.senders[name] = [{k: t.sender for k, t in s.items()} for s in slots]
        self._apply()
        return str(pc.localDescription.sdp)

    def show(self, subscriber: str, publishers: list[tuple[str, bool, bool]]) -> dict[str, int]:
        self.shown[subscriber] = publishers
        self._apply()
        return {name: i for i, (name, _, _) in enumerate(publishers)}

    def _apply(self) -> None:
        for sub, publishers in self.shown.items():
            for i, (pub, audio, video) in enumerate(publishers):
                if sub not in self.senders or pub not in self.tracks:
                    continue
                for kind, on in (("audio", audio), ("video", video)):
                    key = (sub, i, kind)
                    if on and self.assigned.get(key) != pub:
                        sender = self.senders[sub][i][kind]
                        sender.replaceTrack(self.relay.subscribe(self.tracks[pub][kind]))
                        self.assigned[key] = pub

    def stats(self) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        for pc in self.pcs.values():
            await pc.close()


class ForwardingServer:
    """The forwarding relay; with ``metrics`` as a node runs it: counting into node totals
    (NACKs included) and scraped once a second through the same collector as /metrics."""

    def __init__(self, slots: int, metrics: bool = False) -> None:
        from signaling.relay import MediaTotals, Relay

        self.relay = Relay(slots=slots, totals=MediaTotals() if metrics else None)
        self.scraper: asyncio.Task[None] | None = None
        self.scrapes = 0
        if metrics:
            self.scraper = asyncio.ensure_future(self._scrape())

    async def _scrape(self) -> None:
        from types import SimpleNamespace

        from odr.metrics import Metrics
        from signaling.metrics import HearingCollector

        metrics = Metrics()
        host = SimpleNamespace(rooms={1: SimpleNamespace(closed=False, relay=self.relay)})
        assert self.relay.totals is not None
        metrics.register(HearingCollector(host, self.relay.totals))  # type: ignore[arg-type]
        while True:
            await asyncio.sleep(SCRAPE_INTERVAL)
            await metrics.render()
            self.scrapes += 1

    async def connect(self, name: str, offer: str) -> str:
        return await self.relay.connect(name, offer)

    def show(self, subscriber: str, publishers: list[tuple[str, bool, bool]]) -> dict[str, int]:
        return self.relay.show(subscriber, publishers)

    def stats(self) -> dict[str, Any]:
        return self.relay.stats()

    async def close(self) -> None:
        if self.scraper is not None:
            self.scraper.cancel()
        await self.relay.close()


#: Seconds between two scrapes in the forward+metrics mode (Prometheus usually waits 15).
SCRAPE_INTERVAL = 1.0
MODES = ("forward", "forward+metrics", "mediarelay")


async def serve(mode: str, socket_path: str, slots: int) -> None:
    loopback_ice()
    server: ForwardingServer | MediaRelayServer = (
        ForwardingServer(slots, metrics=mode == "forward+metrics")
        if mode.startswith("forward")
        else MediaRelayServer()
    )
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            request = json.loads(line)
            op = request["op"]
            reply: dict[str, Any] = {}
            if op == "connect":
                reply["answer"] = await server.connect(request["name"], request["offer"])
            elif op == "show":
                pubs = [tuple(p) for p in request["publishers"]]
                reply["slots"] = server.show(request["subscriber"], pubs)
            elif op == "cpu":
                times = os.times()
                reply["cpu"] = times.user + times.system
                reply["system"] = times.system
                reply["threads"] = len(os.listdir("/proc/self/task"))
            elif op == "stats":
                reply["stats"] = server.stats()
            elif op == "quit":
                await server.close()
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
            if op == "quit":
                break
        writer.close()
        done.set()

    unix = await asyncio.start_unix_server(handle, socket_path)
    async with unix:
        await done.wait()


# --- client process --------------------------------------------------------------------------


class ServerLink:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.lock = asyncio.Lock()

    async def call(self, **request: Any) -> dict[str, Any]:
        async with self.lock:
            self.writer.write(json.dumps(request).encode() + b"\n")
            await self.writer.drain()
            reply: dict[str, Any] = json.loads(await self.reader.readline())
            return reply

    async def connect(self, name: str, offer: str) -> str:
        return str((await self.call(op="connect", name=name, offer=offer))["answer"])


def match_offset(arrivals: list[tuple[int, float]], sent: dict[int, float]) -> int | None:
    """The constant C with rtp_timestamp = C + pts (mod 2**32), from the step pattern."""
    sent_pts = sorted(sent)
    window = 4
    index: dict[tuple[int, ...], int] = {}
    for k in range(len(sent_pts) - window):
        steps = tuple(sent_pts[k + i + 1] - sent_pts[k + i] for i in range(window))
        index.setdefault(steps, k)
    votes: dict[int, int] = {}
    for j in range(len(arrivals) - window):
        steps = tuple(
            (arrivals[j + i + 1][0] - arrivals[j + i][0]) & 0xFFFFFFFF for i in range(window)
        )
        found = index.get(steps)
        if found is not None:
            offset = (arrivals[j][0] - sent_pts[found]) & 0xFFFFFFFF
            votes[offset] = votes.get(offset, 0) + 1
        if len(votes) and max(votes.values()) >= 5:
            break
    return max(votes, key=lambda o: votes[o]) if votes else None


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_mode(mode: str, args: argparse.Namespace, clips: Any) -> dict[str, Any]:
    from tests.realtime.peers import Peer

    socket_path = os.path.join(tempfile.mkdtemp(prefix="odr-bench-"), "server.sock")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        mode,
        "--socket",
        socket_path,
        "--participants",
        str(args.participants),
    )
    try:
        streams = None
        for _ in range(200):
            try:
                streams = await asyncio.open_unix_connection(socket_path)
                break
            except OSError:
                await asyncio.sleep(0.05)
        if streams is None:
            raise RuntimeError("the server process did not start")
        return await drive(ServerLink(*streams), mode, args, clips, Peer)
    finally:
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def drive(
    link: ServerLink, mode: str, args: argparse.Namespace, clips: Any, peer_class: Any
) -> dict[str, Any]:
    from tests.realtime.peers import wait_for

    size = args.participants
    hearings = [
        [
            peer_class(
                f"h{h}p{i}",
                slots=size - 1,
                decode=False,
                pts_jitter=300,
                record=True,
                clips=clips,
            )
            for i in range(size)
        ]
        for h in range(args.hearings)
    ]
    slot_of: dict[tuple[str, str], int] = {}  # (subscriber, publisher) -> slot

    async def show_all(members: list[Any]) -> None:
        for peer in members:
            others = [(p.name, True, True) for p in members if p is not peer]
            reply = await link.call(op="show", subscriber=peer.name, publishers=others)
            for pub, slot in reply["slots"].items():
                slot_of[(peer.name, pub)] = slot

    # everyone but the last of each hearing joins
    for members in hearings:
        for peer in members[:-1]:
            await peer.join(link.connect)
    for members in hearings:
        if mode.startswith("forward"):
            await show_all(members)  # the relay remembers the late joiner
        else:
            await show_all(members[:-1])
    await asyncio.sleep(1.5)

    # late joiners
    async def late_join(members: list[Any]) -> None:
        late = members[-1]
        await late.join(link.connect)
        await show_all(members)

    await asyncio.gather(*(late_join(m) for m in hearings))
    peers = [p for m in hearings for p in m]
    with contextlib.suppress(AssertionError):
        await wait_for(lambda: all(all(s.video_frames for s in m[-1].slots) for m in hearings))
    late_join_s = [
        s.first_video_at - m[-1].joined_at
        for m in hearings
        for s in m[-1].slots
        if s.first_video_at is not None
    ]
    late_missing = sum(s.first_video_at is None for m in hearings for s in m[-1].slots)
    await asyncio.sleep(1.0)  # warm-up

    def snapshot() -> dict[str, Any]:
        return {
            "sent": {
                p.name: (p.video_source.frames_sent, p.audio_source.frames_sent) for p in peers
            },
            "got": {p.name: [(s.video_frames, s.audio_frames) for s in p.slots] for p in peers},
            "arrivals": {p.name: [len(s.video_arrivals) for s in p.slots] for p in peers},
        }

    cpu0_reply = await link.call(op="cpu")
    cpu0 = cpu0_reply["cpu"]
    wall0 = time.monotonic()
    before = snapshot()
    await asyncio.sleep(args.seconds)
    cpu1_reply = await link.call(op="cpu")
    wall1 = time.monotonic()
    after = snapshot()
    cpu = cpu1_reply["cpu"] - cpu0
    system = cpu1_reply["system"] - cpu0_reply["system"]
    elapsed = wall1 - wall0

    # delivered / expected, per kind
    expected = {"video": 0, "audio": 0}
    delivered = {"video": 0, "audio": 0}
    latencies: list[float] = []
    unmatched_streams = 0
    for members in hearings:
        for sub in members:
            for pub in members:
                if pub is sub:
                    continue
                slot = slot_of[(sub.name, pub.name)]
                sv = after["sent"][pub.name][0] - before["sent"][pub.name][0]
                sa = after["sent"][pub.name][1] - before["sent"][pub.name][1]
                gv = after["got"][sub.name][slot][0] - before["got"][sub.name][slot][0]
                ga = after["got"][sub.name][slot][1] - before["got"][sub.name][slot][1]
                expected["video"] += sv
                expected["audio"] += sa
                delivered["video"] += gv
                delivered["audio"] += ga
                arrivals = sub.slots[slot].video_arrivals
                sent = pub.video_source.sent
                offset = match_offset(arrivals, sent)
                if offset is None:
                    unmatched_streams += 1
                    continue
                lo = before["arrivals"][sub.name][slot]
                hi = after["arrivals"][sub.name][slot]
                for ts, at in arrivals[lo:hi]:
                    sent_at = sent.get((ts - offset) & 0xFFFFFFFF)
                    if sent_at is not None:
                        latencies.append((at - sent_at) * 1000)

    for peer in peers:
        await peer.close()
    await link.call(op="quit")

    streams = args.hearings * size * (size - 1) * 2  # forwarded audio + video tracks
    cores = cpu / elapsed
    return {
        "mode": mode,
        "server_cores": cores,
        "server_system_share": system / cpu if cpu else 0.0,
        "streams": streams,
        "cpu_per_stream": cores / streams,
        # CPU per frame actually delivered (an overloaded server delivers fewer)
        "cpu_per_delivered_frame_us": cpu / max(1, delivered["video"] + delivered["audio"]) * 1e6,
        "cores_per_hearing": cores / args.hearings,
        "delivered_video": delivered["video"] / max(1, expected["video"]),
        "delivered_audio": delivered["audio"] / max(1, expected["audio"]),
        "latency_ms_p50": percentile(latencies, 0.5),
        "latency_ms_p95": percentile(latencies, 0.95),
        "latency_samples": len(latencies),
        "unmatched_streams": unmatched_streams,
        "late_join_s_p50": percentile(late_join_s, 0.5),
        "late_join_s_max": max(late_join_s) if late_join_s else float("nan"),
        "late_join_missing": late_missing,
        "server_threads": cpu1_reply["threads"],
    }


async def bench(args: argparse.Namespace) -> None:
    loopback_ice()
    from signaling.media import encode_audio_clip, encode_video_clip

    clips = (
        encode_video_clip(width=args.width, height=args.height, fps=args.fps, seconds=2.0),
        encode_audio_clip(seconds=1.0),
    )
    results: dict[str, dict[str, Any]] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(args.repeat):  # interleaved, so that a busy moment hits every mode
        for mode in args.modes.split(","):
            runs.setdefault(mode, []).append(await run_mode(mode, args, clips))
    for mode, measured in runs.items():
        results[mode] = {
            key: (sum(r[key] for r in measured) / len(measured))
            if isinstance(measured[0][key], float)
            else measured[-1][key]
            for key in measured[0]
        }

    rows = [
        ("server CPU (cores)", "server_cores", "{:.3f}"),
        ("  of which kernel (sys)", "server_system_share", "pct"),
        ("forwarded streams", "streams", "{}"),
        ("CPU per stream (% core)", "cpu_per_stream", "pct"),
        ("CPU per hearing (% core)", "cores_per_hearing", "pct"),
        ("CPU per delivered frame (us)", "cpu_per_delivered_frame_us", "{:.0f}"),
        ("video frames delivered", "delivered_video", "pct"),
        ("audio frames delivered", "delivered_audio", "pct"),
        ("added video latency p50 (ms)", "latency_ms_p50", "{:.1f}"),
        ("added video latency p95 (ms)", "latency_ms_p95", "{:.1f}"),
        ("late join first frame p50 (s)", "late_join_s_p50", "{:.3f}"),
        ("late join first frame max (s)", "late_join_s_max", "{:.3f}"),
        ("server threads", "server_threads", "{}"),
    ]
    modes = list(results)
    print(
        f"\n{args.hearings} hearing(s) x {args.participants} participants, "
        f"{args.width}x{args.height}@{args.fps} VP8 + Opus, {args.seconds:.0f} s measured"
    )
    print(f"{'':32}" + "".join(f"{m:>14}" for m in modes))
    for label, key, fmt in rows:
        cells = []
        for m in modes:
            value = results[m][key]
            cells.append(f"{value * 100:.1f}%" if fmt == "pct" else fmt.format(value))
        print(f"{label:32}" + "".join(f"{c:>14}" for c in cells))

    summary: dict[str, Any] = {
        "participants": args.participants,
        "hearings": args.hearings,
        "seconds": args.seconds,
        "video": f"{args.width}x{args.height}@{args.fps}",
    }
    for m in modes:
        summary[m] = {
            k: (round(v, 5) if isinstance(v, float) else v) for k, v in results[m].items()
        }
    if "forward" in results:
        fwd = results["forward"]
        summary["hearings_per_core"] = round(1 / fwd["cores_per_hearing"], 2)
        if "forward+metrics" in results:
            on = results["forward+metrics"]["cpu_per_delivered_frame_us"]
            off = fwd["cpu_per_delivered_frame_us"]
            summary["metrics_cpu_overhead"] = round(on / off - 1, 4)
        if "mediarelay" in results:
            base = results["mediarelay"]
            summary["cpu_ratio"] = round(base["cpu_per_stream"] / fwd["cpu_per_stream"], 2)
            summary["cpu_ratio_per_delivered_frame"] = round(
                base["cpu_per_delivered_frame_us"] / fwd["cpu_per_delivered_frame_us"], 2
            )
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hearings", type=int, default=1)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--modes", default=",".join(MODES), help=",".join(MODES))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each mode, interleaved")
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.socket, max(1, args.participants - 1)))
    else:
        asyncio.run(bench(args))


if __name__ == "__main__":
    main()
