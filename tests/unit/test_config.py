from __future__ import annotations

from pathlib import Path

import pytest

from odr.config import ConfigError, Mode, Settings


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    s = Settings.from_env({"ODR_VAR_DIR": str(tmp_path)})
    assert s.mode is Mode.DEVELOPMENT
    assert s.database_url == f"sqlite+aiosqlite:///{tmp_path / 'odr.sqlite3'}"
    assert s.redis_url is None
    assert s.timezone == "Asia/Shanghai"
    assert s.ice_servers == ()
    assert s.run_jobs_in_process


def test_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = Settings.from_env({"ODR_VAR_DIR": str(tmp_path)}).secret_key
    second = Settings.from_env({"ODR_VAR_DIR": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_requires_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ODR_SECRET_KEY"):
        Settings.from_env({"ODR_MODE": "production", "ODR_VAR_DIR": str(tmp_path)})
    s = Settings.from_env(
        {"ODR_MODE": "production", "ODR_SECRET_KEY": "k" * 40, "ODR_VAR_DIR": str(tmp_path)}
    )
    assert s.production and s.log_format == "json"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ODR_MODE", "staging"),
        ("ODR_PORT", "eighty"),
        ("ODR_SESSION_TTL", "-5"),
        ("ODR_TIMEZONE", "Mars/Olympus"),
        ("ODR_ICE_SERVERS", '{"urls": 1}'),
        ("ODR_SECRET_KEY", "short"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value, "ODR_VAR_DIR": str(tmp_path)})


def test_ice_servers_and_redis(tmp_path: Path) -> None:
    s = Settings.from_env(
        {
            "ODR_VAR_DIR": str(tmp_path),
            "ODR_ICE_SERVERS": '[{"urls": "stun:stun.example.org:3478"}]',
            "ODR_REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert s.ice_servers[0]["urls"] == "stun:stun.example.org:3478"
    assert not s.run_jobs_in_process  # with Redis, arq workers run the jobs


THRESHOLDS = """
[defaults]
per_days = 30
max_cases = 100
min_answer_share_in_time = 0.8

[insurers."安康人寿"]
policy_count = 1200000
max_cases = 60
max_overdue = false

[insurers.12]
max_escalation_share = 0.1
"""


def test_thresholds_file_is_loaded_with_defaults_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text(THRESHOLDS, encoding="utf-8")
    s = Settings.from_env({"ODR_VAR_DIR": str(tmp_path), "ODR_THRESHOLDS": str(path)})
    rules = s.thresholds
    assert rules.defaults.max_cases == 100 and rules.defaults.per_days == 30
    assert rules.defaults.max_overdue == 5  # not named: the built-in default
    ankang = rules.for_insurer(7, "安康人寿")
    assert (ankang.max_cases, ankang.max_overdue, ankang.policy_count) == (60, None, 1_200_000)
    assert ankang.min_answer_share_in_time == 0.8  # inherited from [defaults]
    assert rules.for_insurer(12, "华信财险").max_escalation_share == 0.1
    assert rules.for_insurer(13, "华信财险") == rules.defaults
    # count limits scale with the period: 60 per 30 days is 730 per 365 days
    assert ankang.limit("max_cases", 365) == 730
    assert ankang.limit("max_escalation_share", 365) == ankang.max_escalation_share


def test_without_a_thresholds_file_the_built_in_defaults(tmp_path: Path) -> None:
    rules = Settings.from_env({"ODR_VAR_DIR": str(tmp_path)}).thresholds
    assert rules.for_insurer(1, "安康人寿").max_cases == 100
    assert rules.defaults.per_days is None


@pytest.mark.parametrize(
    "text",
    [
        "[defaults]\nmax_cases = 'many'\n",
        "[defaults]\nmax_casez = 3\n",
        "[defaults]\nmax_cases = -1\n",
        "[defaults]\nper_days = 0\n",
        "[insurers]\nfoo = 3\n",
        "[limits]\nmax_cases = 3\n",
        "[defaults\n",
    ],
)
def test_bad_thresholds_name_the_variable(tmp_path: Path, text: str) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="ODR_THRESHOLDS"):
        Settings.from_env({"ODR_VAR_DIR": str(tmp_path), "ODR_THRESHOLDS": str(path)})
    with pytest.raises(ConfigError, match="ODR_THRESHOLDS"):
        Settings.from_env({"ODR_VAR_DIR": str(tmp_path), "ODR_THRESHOLDS": str(tmp_path / "no")})


@pytest.mark.parametrize(
    ("env", "served_on", "expected"),
    [
        ({}, None, "http://127.0.0.1:8080"),
        ({"ODR_PORT": "9123"}, None, "http://127.0.0.1:9123"),
        ({"ODR_HOST": "0.0.0.0", "ODR_PORT": "8000"}, None, "http://127.0.0.1:8000"),
        ({"ODR_HOST": "::1"}, None, "http://[::1]:8080"),
        ({}, ("192.0.2.7", 8443), "http://192.0.2.7:8443"),  # odr serve --host --port
        ({"ODR_PUBLIC_URL": "https://odr.example/"}, None, "https://odr.example"),
        ({"ODR_PUBLIC_URL": "https://odr.example"}, ("0.0.0.0", 9000), "https://odr.example"),
    ],
)
def test_the_public_url_follows_the_address_served_unless_it_is_set(
    tmp_path: Path, env: dict[str, str], served_on: tuple[str, int] | None, expected: str
) -> None:
    s = Settings.from_env({"ODR_VAR_DIR": str(tmp_path), **env})
    if served_on is not None:
        s = s.serving_on(*served_on)
        assert (s.host, s.port) == served_on
    assert s.public_url == expected
