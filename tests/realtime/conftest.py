"""Realtime tests run on a loopback-only host: ICE must offer 127.0.0.1 (aioice leaves it out)."""

from __future__ import annotations

import pytest

# hearing tests run the whole app on both backends, like the integration tests
from tests.integration.conftest import backend, seeded  # noqa: F401


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("aioice.ice.get_host_addresses", lambda **kwargs: ["127.0.0.1"])
