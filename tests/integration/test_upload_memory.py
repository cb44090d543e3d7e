"""A 1 GiB upload through the API grows the server's memory by less than 64 MiB.

Runs bench/upload.py (the server in its own process, its peak RSS read from /proc) and reads
the figures from the JSON on its last line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "upload.py"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_1_gib_upload_keeps_the_server_under_64_mib() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--size-mib", "1024"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["sha256_ok"], result.stdout
    assert figures["server_peak_growth_mib"] < 64, figures
    assert figures["under_64_mib"] and result.returncode == 0, result.stdout + result.stderr
