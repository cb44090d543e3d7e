"""The process's metrics, in the Prometheus text format (prometheus-client).

One `Metrics` per process (built by `odr.bootstrap`), each with a registry of its own, so
several apps in one process (tests) do not share counters. Three kinds of figure:

- counted as things happen, where counting is cheap: HTTP requests (a histogram per route
  template, not per raw path), complaints filed and triaged, deadline escalations, jobs run
  and failed with their lag, blob store latency, recording segments and their lag to evidence;
- gauges of connections held open (server-sent event streams, hearing sockets);
- computed when scraped: `Metrics.probe` registers an async function that `Metrics.render`
  awaits before it writes the page (open cases by state, overdue cases, queued jobs from the
  database or Redis), and `Metrics.register` a collector read synchronously at that moment
  (the media relay's plain integer counters, the database pool).

This module imports nothing of odr: every layer may count into it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

log = logging.getLogger("odr.metrics")

#: What `render` answers with.
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Seconds a scrape-time probe may take before its figures are left as they were.
PROBE_DEADLINE = 2.0

#: Request latency buckets (seconds): pages and API calls take milliseconds, uploads longer.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Job lag (seconds from when a job was due or enqueued to when it started).
LAG_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0)
#: One blob store operation (seconds).
BLOB_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0)

#: The route label of a request no route matched (so raw paths never become labels).
UNMATCHED = "unmatched"

Probe = Callable[[], Awaitable[None]]


class Metrics:
    """Every metric family of the process, on its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "odr_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "odr_http_request_duration_seconds",
            "Time to answer an HTTP request (streams and sockets excluded), by route template",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.intake = Counter(
            "odr_intake_complaints",
            "Complaints filed, by channel kind",
            ["channel"],
            registry=r,
        )
        self.triage = Counter(
            "odr_triage_complaints",
            "Complaints triaged on intake, by category and whether care priority was given",
            ["category", "care_priority"],
            registry=r,
        )
        self.escalations = Counter(
            "odr_deadline_escalations",
            "Deadlines that passed (escalations recorded by the case clock), by stage",
            ["stage"],
            registry=r,
        )
        self.cases_open = Gauge(
            "odr_cases_open", "Cases not closed, by state (when scraped)", ["state"], registry=r
        )
        self.cases_overdue = Gauge(
            "odr_cases_overdue",
            "Open cases past their current deadline (when scraped)",
            registry=r,
        )
        self.jobs_queued = Gauge(
            "odr_jobs_queued", "Jobs waiting to run (when scraped)", registry=r
        )
        self.jobs_run = Counter(
            "odr_jobs_run", "Job runs that finished, by job", ["job"], registry=r
        )
        self.jobs_failed = Counter(
            "odr_jobs_failed", "Job runs that raised, by job", ["job"], registry=r
        )
        self.job_lag = Histogram(
            "odr_job_lag_seconds",
            "Seconds from when a job was due (or enqueued) to when it started, by job",
            ["job"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.blob_duration = Histogram(
            "odr_blob_store_operation_seconds",
            "Time of one blob store operation (a stream: until its last chunk), by operation",
            ["operation"],
            buckets=BLOB_BUCKETS,
            registry=r,
        )
        self.sse_connections = Gauge(
            "odr_sse_connections", "Server-sent event streams open (case pages)", registry=r
        )
        self.socket_connections = Gauge(
            "odr_hearing_socket_connections", "Hearing sockets open", registry=r
        )
        self.segments_written = Counter(
            "odr_recorder_segments_written",
            "Recording segments closed and entered as evidence",
            registry=r,
        )
        self.segments_failed = Counter(
            "odr_recorder_segments_failed",
            "Recording segments closed but not entered (entered at the next start)",
            registry=r,
        )
        self.segment_lag = Histogram(
            "odr_recorder_segment_lag_seconds",
            "Seconds from a segment's end to its entry as evidence",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self._probes: list[Probe] = []

    # --- composition ---------------------------------------------------------------------

    def register(self, collector: Collector) -> None:
        """A collector read when scraped (it must be quick and must not block)."""
        self.registry.register(collector)

    def unregister(self, collector: Collector) -> None:
        self.registry.unregister(collector)

    def probe(self, function: Probe) -> None:
        """An async function run before each scrape that sets gauges (a cheap query)."""
        self._probes.append(function)

    # --- counting ------------------------------------------------------------------------

    def observe_request(self, method: str, route: str, status: int, seconds: float | None) -> None:
        """One answered request; ``seconds`` None for a stream or socket (not timed)."""
        self.http_requests.labels(method, route, str(status)).inc()
        if seconds is not None:
            self.http_duration.labels(method, route).observe(seconds)

    def observe_blob(self, operation: str, seconds: float) -> None:
        self.blob_duration.labels(operation).observe(seconds)

    @contextmanager
    def job(self, name: str, lag: float | None) -> Iterator[None]:
        """Around one job run: its lag, and whether it finished or raised."""
        if lag is not None:
            self.job_lag.labels(name).observe(max(lag, 0.0))
        try:
            yield
        except Exception:
            self.jobs_failed.labels(name).inc()
            raise
        self.jobs_run.labels(name).inc()

    def segment_entered(self, ended_at_unix: float) -> None:
        self.segments_written.inc()
        self.segment_lag.observe(max(time.time() - ended_at_unix, 0.0))

    # --- scraping ------------------------------------------------------------------------

    async def render(self) -> bytes:
        """The text exposition, after every probe had its turn (a probe that fails or takes
        longer than `PROBE_DEADLINE` leaves its gauges as they were, and is logged)."""
        for function in self._probes:
            try:
                await asyncio.wait_for(function(), PROBE_DEADLINE)
            except Exception as error:
                log.warning("metrics probe %s failed: %s", getattr(function, "__name__", ""), error)
        return generate_latest(self.registry)
