"""Configuration: read once from ``ODR_*`` environment variables into a frozen object.

Nothing here runs at import; `Settings.from_env()` is called by the CLI or the app factory.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from odr.domain.errors import ValidationFailed
from odr.domain.one_time_codes import CodePolicy
from odr.domain.thresholds import ThresholdRules, parse_thresholds

#: Live hearings per node by default: what one `odr serve` process (one core for its event
#: loop) holds with every participant's frames delivered, recording on and readers on their
#: case pages, with headroom (measured with `bench/soak.py`; see docs/architecture.md).
MAX_LIVE_HEARINGS = 6


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


@dataclass(frozen=True)
class Settings:
    mode: Mode = Mode.DEVELOPMENT
    var_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = ""
    #: keys used before the current one: what they sealed is still read (docs/secret-keys.md)
    previous_secret_keys: tuple[str, ...] = ()
    storage_dir: Path = Path("var/evidence")
    recordings_dir: Path = Path("recordings")
    #: where people reach the service (links in invitations, e-mails); without
    #: ODR_PUBLIC_URL, the address the server listens on (`local_url`, `serving_on`)
    public_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = 8080
    public_url_given: bool = False  # ODR_PUBLIC_URL was set
    ice_servers: tuple[Mapping[str, Any], ...] = ()
    turn_secret: str | None = None
    #: addresses the media relay offers as its own (ICE host candidates); empty: every
    #: interface. A host with only a loopback interface (a sandbox) needs "127.0.0.1".
    media_addresses: tuple[str, ...] = ()
    recording_segment_seconds: float = 60.0
    #: hearings this node holds live at once (rooms with their media relay and recorders);
    #: a join that would open one more gets ``hearings_at_capacity`` instead of slowing down
    #: every hearing of the node (ODR_MAX_LIVE_HEARINGS; see the README)
    max_live_hearings: int = MAX_LIVE_HEARINGS
    #: database connections kept open per process, and how many more it may open at peaks
    #: (ODR_DB_POOL_SIZE, ODR_DB_MAX_OVERFLOW); a request waits at most 1.5 s for one
    db_pool_size: int = 10
    db_max_overflow: int = 20
    timezone: str = "Asia/Shanghai"
    session_ttl: int = 12 * 3600
    login_max_failures: int = 5
    login_window: int = 15 * 60
    #: proxies whose X-Forwarded-For is believed (addresses or networks, ODR_TRUSTED_PROXIES,
    #: comma-separated); nobody else's is: the client address is then the connection's
    trusted_proxies: tuple[str, ...] = ()
    log_format: str = "text"
    log_level: str = "INFO"
    run_jobs_in_process: bool = True
    smtp_url: str | None = None  # smtp://user:password@host:port, ?starttls=1 or smtps://
    mail_from: str = "ODR <no-reply@odr.invalid>"
    #: the signed-HTTP SMS gateway (`odr.services.sms`, docs/sms-gateway.md); without a URL,
    #: SMS are logged (with their text only in development mode)
    sms_gateway_url: str | None = None
    sms_gateway_key: str = ""
    sms_gateway_secret: str = ""
    sms_template_id: str = ""
    #: one-time codes (`odr.domain.one_time_codes.CodePolicy`), ODR_CODE_*
    code_policy: CodePolicy = field(default_factory=CodePolicy)
    retention_years: int = 5  # evidence bytes of closed cases are deleted after this
    max_file_bytes: int = 200 * 1024 * 1024
    max_case_bytes: int = 2 * 1024 * 1024 * 1024
    s3_endpoint: str | None = None  # evidence in an S3-compatible store instead of storage_dir
    s3_bucket: str = "odr-evidence"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    triage_rules: Path | None = None  # overrides the packaged odr/data/triage.toml
    #: the learned triage model's artefact (ODR_TRIAGE_MODEL; default var/triage-model.json),
    #: built by ``odr triage-train`` or on first use (`odr.services.triage_model`)
    triage_model: Path | None = None
    #: reading the text of evidence (`odr.services.ocr.Limits`): pages of a PDF, seconds per item
    ocr_max_pages: int = 50
    ocr_timeout: int = 300
    #: the mediator (and the centre's staff) get the redacted copy by default too
    redact_for_mediator: bool = False
    evidence_flags: Path | None = None  # replaces the packaged odr/data/evidence_flags.toml
    deadline_rules: Path | None = None  # TOML overriding the default regulatory deadlines
    #: per-insurer thresholds of the dashboard (ODR_THRESHOLDS: a TOML file, see
    #: `odr.domain.thresholds`); without the file, the built-in defaults
    thresholds: ThresholdRules = field(default_factory=ThresholdRules)
    #: the bearer token `/metrics` asks for (ODR_METRICS_TOKEN, at least 32 characters);
    #: without it, `/metrics` answers 404 ``metrics_disabled``
    metrics_token: str | None = None
    #: where `odr worker` serves its own /metrics (ODR_WORKER_METRICS_PORT; none: not served)
    worker_metrics_port: int | None = None

    @property
    def production(self) -> bool:
        return self.mode is Mode.PRODUCTION

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def serving_on(self, host: str, port: int) -> Settings:
        """These settings for a server listening on ``host``:``port`` (``odr serve --host
        --port``): without ODR_PUBLIC_URL the public URL is that address."""
        if self.public_url_given:
            return replace(self, host=host, port=port)
        return replace(self, host=host, port=port, public_url=local_url(host, port))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, default: str | None = None) -> str | None:
            value = env.get(f"ODR_{name}")
            return value if value not in (None, "") else default

        try:
            mode = Mode(get("MODE") or Mode.DEVELOPMENT.value)
        except ValueError:
            raise ConfigError("ODR_MODE must be 'development' or 'production'") from None
        var_dir = Path(get("VAR_DIR", "var") or "var")
        database_url = get("DATABASE_URL") or f"sqlite+aiosqlite:///{var_dir / 'odr.sqlite3'}"
        secret = get("SECRET_KEY")
        if secret is None:
            if mode is Mode.PRODUCTION:
                raise ConfigError("ODR_SECRET_KEY is required in production mode")
            secret = _development_secret(var_dir)
        elif len(secret) < 32:
            raise ConfigError("ODR_SECRET_KEY must have at least 32 characters")
        redis_url = get("REDIS_URL")
        timezone = get("TIMEZONE", "Asia/Shanghai") or "Asia/Shanghai"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"ODR_TIMEZONE: unknown time zone {timezone!r}") from None
        host = get("HOST", "127.0.0.1") or "127.0.0.1"
        port = _int(get, "PORT", 8080)
        return cls(
            mode=mode,
            var_dir=var_dir,
            database_url=database_url,
            redis_url=redis_url,
            secret_key=secret,
            previous_secret_keys=tuple(
                k.strip() for k in (get("PREVIOUS_SECRET_KEYS") or "").split(",") if k.strip()
            ),
            storage_dir=Path(get("STORAGE_DIR") or var_dir / "evidence"),
            recordings_dir=Path(get("RECORDINGS_DIR", "recordings") or "recordings"),
            public_url=(get("PUBLIC_URL") or "").rstrip("/") or local_url(host, port),
            host=host,
            port=port,
            public_url_given=bool((get("PUBLIC_URL") or "").strip()),
            ice_servers=_ice_servers(get("ICE_SERVERS")),
            turn_secret=get("TURN_SECRET"),
            media_addresses=tuple(
                a.strip() for a in (get("MEDIA_ADDRESSES") or "").split(",") if a.strip()
            ),
            recording_segment_seconds=float(get("RECORDING_SEGMENT_SECONDS") or 60),
            max_live_hearings=_int(get, "MAX_LIVE_HEARINGS", MAX_LIVE_HEARINGS),
            db_pool_size=_int(get, "DB_POOL_SIZE", 10),
            db_max_overflow=_int(get, "DB_MAX_OVERFLOW", 20),
            timezone=timezone,
            session_ttl=_int(get, "SESSION_TTL", 12 * 3600),
            login_max_failures=_int(get, "LOGIN_MAX_FAILURES", 5),
            login_window=_int(get, "LOGIN_WINDOW", 15 * 60),
            trusted_proxies=_networks(get("TRUSTED_PROXIES")),
            log_format=get("LOG_FORMAT", "json" if mode is Mode.PRODUCTION else "text") or "text",
            log_level=(get("LOG_LEVEL", "INFO") or "INFO").upper(),
            run_jobs_in_process=_bool(get("JOBS_IN_PROCESS"), default=redis_url is None),
            smtp_url=get("SMTP_URL"),
            mail_from=get("MAIL_FROM", "ODR <no-reply@odr.invalid>") or "",
            sms_gateway_url=_sms_gateway_url(get("SMS_GATEWAY_URL"), get),
            sms_gateway_key=get("SMS_GATEWAY_KEY") or "",
            sms_gateway_secret=get("SMS_GATEWAY_SECRET") or "",
            sms_template_id=get("SMS_TEMPLATE_ID") or "",
            code_policy=_code_policy(get),
            retention_years=_int(get, "RETENTION_YEARS", 5),
            max_file_bytes=_int(get, "MAX_FILE_BYTES", 200 * 1024 * 1024),
            max_case_bytes=_int(get, "MAX_CASE_BYTES", 2 * 1024 * 1024 * 1024),
            s3_endpoint=get("S3_ENDPOINT"),
            s3_bucket=get("S3_BUCKET", "odr-evidence") or "odr-evidence",
            s3_access_key=get("S3_ACCESS_KEY"),
            s3_secret_key=get("S3_SECRET_KEY"),
            triage_rules=_path(get("TRIAGE_RULES")),
            triage_model=_path(get("TRIAGE_MODEL")),
            ocr_max_pages=_int(get, "OCR_MAX_PAGES", 50),
            ocr_timeout=_int(get, "OCR_TIMEOUT", 300),
            redact_for_mediator=_bool(get("REDACT_FOR_MEDIATOR"), default=False),
            evidence_flags=_path(get("EVIDENCE_FLAGS")),
            deadline_rules=_path(get("DEADLINE_RULES")),
            thresholds=_thresholds(get("THRESHOLDS")),
            metrics_token=_metrics_token(get("METRICS_TOKEN")),
            worker_metrics_port=(
                _int(get, "WORKER_METRICS_PORT", 1) if get("WORKER_METRICS_PORT") else None
            ),
        )


#: The shortest metrics token accepted (it guards figures about cases and hearings).
MIN_METRICS_TOKEN = 32


def _metrics_token(raw: str | None) -> str | None:
    if raw is None:
        return None
    if len(raw) < MIN_METRICS_TOKEN or not raw.isascii() or not raw.isprintable():
        raise ConfigError(
            f"ODR_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} printable ASCII characters"
        )
    return raw


#: Addresses that mean "every interface": a link to them reaches no one; loopback instead.
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104 - recognised, not bound


def local_url(host: str, port: int) -> str:
    """``http://host:port``, the public URL of a server nobody gave one (IPv6 in brackets, a
    wildcard address as 127.0.0.1). A deployment behind a proxy sets ODR_PUBLIC_URL."""
    if host in _WILDCARDS:
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _int(get: Any, name: str, default: int) -> int:
    raw = get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"ODR_{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"ODR_{name} must be positive")
    return value


def _code_policy(get: Any) -> CodePolicy:
    default = CodePolicy()
    try:
        return CodePolicy(
            length=_int(get, "CODE_LENGTH", default.length),
            lifetime=_int(get, "CODE_LIFETIME", default.lifetime),
            max_attempts=_int(get, "CODE_MAX_ATTEMPTS", default.max_attempts),
            resend_interval=_int(get, "CODE_RESEND_INTERVAL", default.resend_interval),
            per_destination=_int(get, "CODE_PER_DESTINATION", default.per_destination),
            per_client=_int(get, "CODE_PER_CLIENT", default.per_client),
            window=_int(get, "CODE_WINDOW", default.window),
        )
    except ValueError as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"ODR_CODE_*: {error}") from None


def _sms_gateway_url(raw: str | None, get: Any) -> str | None:
    if raw is None:
        return None
    for name in ("SMS_GATEWAY_KEY", "SMS_GATEWAY_SECRET", "SMS_TEMPLATE_ID"):
        if not get(name):
            raise ConfigError(f"ODR_SMS_GATEWAY_URL needs ODR_{name} too")
    if not raw.startswith(("https://", "http://")):
        raise ConfigError("ODR_SMS_GATEWAY_URL must be an http:// or https:// URL")
    return raw


def _path(raw: str | None) -> Path | None:
    return Path(raw) if raw else None


def _thresholds(raw: str | None) -> ThresholdRules:
    if raw is None:
        return ThresholdRules()
    try:
        data = tomllib.loads(Path(raw).read_text(encoding="utf-8"))
        return parse_thresholds(data)
    except OSError as error:
        raise ConfigError(f"ODR_THRESHOLDS: cannot read {raw}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"ODR_THRESHOLDS: {raw} is not valid TOML: {error}") from None
    except ValidationFailed as error:
        raise ConfigError(f"ODR_THRESHOLDS: {error.message}") from None


def _networks(raw: str | None) -> tuple[str, ...]:
    networks = tuple(part.strip() for part in (raw or "").split(",") if part.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(
                f"ODR_TRUSTED_PROXIES: {network!r} is not an address or a network"
            ) from None
    return networks


def _bool(raw: str | None, *, default: bool) -> bool:
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _ice_servers(raw: str | None) -> tuple[Mapping[str, Any], ...]:
    if raw is None:
        return ()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError("ODR_ICE_SERVERS must be a JSON list of {urls: ...} objects") from None
    if not isinstance(value, list) or not all(
        isinstance(item, dict) and "urls" in item for item in value
    ):
        raise ConfigError("ODR_ICE_SERVERS must be a JSON list of {urls: ...} objects")
    return tuple(value)


def _development_secret(var_dir: Path) -> str:
    """A random key kept under var/ so development sessions survive restarts."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
