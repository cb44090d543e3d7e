"""The example Prometheus alert rules and Grafana dashboard under deploy/ read only metrics
that ODR serves (a renamed metric would otherwise leave an alert silent for ever)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import yaml

from odr.metrics import Metrics
from odr.services.metric_probes import PoolCollector
from signaling.metrics import HearingCollector
from signaling.relay import MediaTotals

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NAME = re.compile(r"\bodr_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def served() -> set[str]:
    metrics = Metrics()
    metrics.register(PoolCollector(None))
    metrics.register(HearingCollector(SimpleNamespace(rooms={}), MediaTotals()))  # type: ignore[arg-type]
    names = set()
    for family in metrics.registry.collect():
        for suffix in SUFFIXES[family.type]:
            names.add(family.name + suffix)
    return names


def test_every_alert_reads_served_metrics_and_has_a_runbook_entry() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"][0]
    runbook = (DEPLOY.parent / "docs" / "operations.md").read_text()
    names = served()
    for rule in rules["rules"]:
        used = set(NAME.findall(rule["expr"]))
        assert used - names == set(), f"{rule['alert']} reads unknown metrics"
        assert f"`{rule['alert']}`" in runbook, f"{rule['alert']} is not in the runbook"
    assert {"ODRDeadlineBreachesRising", "ODRJobLag", "ODRRelayLoss", "ODRHigh5xxRate"} <= {
        r["alert"] for r in rules["rules"]
    }


def test_every_dashboard_panel_reads_served_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "odr-dashboard.json").read_text())
    names = served()
    graphed = set()
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            used = set(NAME.findall(target["expr"]))
            assert used, panel["title"]
            assert used - names == set(), f"{panel['title']} reads unknown metrics"
            graphed |= used
    # every family is on the dashboard (counters and histograms by one of their series)
    families = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in names}
    shown = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in graphed}
    assert families - shown == set()
