"""The soak bench, short: recorded hearings of three aiortc participants for two minutes
against a real `odr serve` process, with consumers reading their case pages and holding their
live case streams. No server errors (5xx answers, tracebacks or ERROR lines in its log), at
least 99 % of the frames each participant sent reach each subscriber, and the server's memory
grows by less than 50 MiB after the first minute."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


#: Six recorded hearings (eighteen participants), as the node's default admission limit
#: (`ODR_MAX_LIVE_HEARINGS`): the server and the client processes take about 0.08 of a core
#: per hearing each (`bench/soak.py` prints both), so about 1.1 cores in all with the readers.
HEARINGS = 6


@pytest.mark.timeout(400)
def test_recorded_hearings_for_two_minutes_with_readers() -> None:
    command = [sys.executable, str(BENCH), "--hearings", str(HEARINGS), "--minutes", "2"]
    command += ["--readers", "40", "--baseline-seconds", "20"]
    # its own process group: the server and the client processes go with it on a timeout
    bench = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = bench.communicate(timeout=380)
    finally:
        if bench.poll() is None:
            os.killpg(bench.pid, signal.SIGKILL)
            bench.communicate()
    assert bench.returncode == 0, err[-4000:]
    figures = json.loads(out.strip().splitlines()[-1])
    problems = {k: figures[k] for k in ("first_log_errors", "participant_troubles")}
    assert figures["server_errors"] == 0, problems
    assert figures["reader_crashes"] == [], figures["reader_crashes"]
    assert figures["subscribers"] == 3 * HEARINGS
    assert figures["delivered_min_subscriber"] >= 0.99, problems
    assert figures["rss_growth_after_1min_mib"] < 50
    assert figures["pages_read_loaded"] > 0 and figures["recording_segments"] >= 3 * HEARINGS
