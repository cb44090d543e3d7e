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
