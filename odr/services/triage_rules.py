"""Loading the triage rules: the file shipped with the package, optionally overridden.

The packaged ``odr/data/triage.toml`` holds every default. An override file (a deployment's own
vocabulary or thresholds) only needs the keys it changes: tables are merged key by key, any
other value (a number, a string, a list) replaces the default. A keyword is switched off by
giving it weight 0.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from odr.domain.errors import ValidationFailed
from odr.domain.triage import TriageRules

PACKAGED_RULES = "data/triage.toml"


def load_rules(
    path: str | Path | None = None, *, overrides: Mapping[str, Any] | None = None
) -> TriageRules:
    """The packaged rules, with the file at ``path`` and then ``overrides`` merged over them."""
    data: Mapping[str, Any] = packaged_rules_data()
    if path is not None:
        data = merge_rules(data, _read_toml(Path(path)))
    if overrides:
        data = merge_rules(data, overrides)
    return TriageRules.from_mapping(data)


@cache
def default_rules() -> TriageRules:
    """The packaged rules, parsed once per process."""
    return TriageRules.from_mapping(packaged_rules_data())


def packaged_rules_data() -> dict[str, Any]:
    text = resources.files("odr").joinpath(PACKAGED_RULES).read_text(encoding="utf-8")
    return _parse(text, f"odr/{PACKAGED_RULES}")


def merge_rules(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: tables merge recursively, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_rules(current, value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed(
            f"triage rules: cannot read {path}: {exc.strerror}", details={"field": "path"}
        ) from None
    return _parse(text, str(path))


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(
            f"triage rules: {source} is not valid TOML ({exc})", details={"field": "path"}
        ) from None
