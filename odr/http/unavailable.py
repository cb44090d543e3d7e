"""Which failures mean "a dependency is down or stalled" (the database, Redis, the object
store): those become 503 ``service_unavailable`` with ``Retry-After``, never a 500 — the
request may simply be tried again in a moment."""

from __future__ import annotations

import botocore.exceptions
import redis.exceptions
import sqlalchemy.exc

from odr.domain.errors import DomainError

RETRY_AFTER = 5  # seconds

_DEPENDENCY_FAILURES: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,  # connection refused, lost, timed out; SQLite locked
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # no connection free in the pool in time
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    botocore.exceptions.ConnectionError,  # the object store: connect and read time-outs
    ConnectionError,
    TimeoutError,
)


#: PostgreSQL error codes (SQLSTATE) meaning the server cannot serve now, not that the query
#: is wrong: class 08 (connection exception), the server shutting down or starting up
#: (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now) and no connection
#: slot left (53300 too_many_connections)
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


class ServiceUnavailable(DomainError):
    code = "service_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The service is briefly unavailable. Please try again in a moment.",
            details={"retry_after": RETRY_AFTER},
        )
        self.retry_after = RETRY_AFTER


def is_dependency_failure(error: BaseException) -> bool:
    """``error``, or what caused it, is a dependency failing (not a bug of ours)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _DEPENDENCY_FAILURES):
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated:
            return True
        sqlstate = getattr(current, "sqlstate", None)  # asyncpg's errors carry theirs
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        current = current.__cause__ or current.__context__
    return False
