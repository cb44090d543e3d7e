"""Which errors mean "a dependency is down" (503) and which are bugs (500): PostgreSQL
shutting down, starting up or out of connection slots is the former, whatever wraps it."""

from __future__ import annotations

import asyncpg
import pytest
import sqlalchemy.exc

from odr.http.unavailable import is_dependency_failure


def wrapped(error: Exception) -> Exception:
    """``error`` as SQLAlchemy hands it on: a DBAPIError caused by the driver's error."""
    try:
        try:
            raise error
        except Exception as cause:
            raise sqlalchemy.exc.DBAPIError("SELECT 1", None, cause) from cause
    except sqlalchemy.exc.DBAPIError as outer:
        return outer


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator"),
        asyncpg.exceptions.CrashShutdownError("terminating connection due to crash"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.ConnectionFailureError("connection failure"),
    ],
)
def test_the_server_not_serving_now_is_a_dependency_failure(error: Exception) -> None:
    assert is_dependency_failure(error)
    assert is_dependency_failure(wrapped(error))


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.UndefinedColumnError("column does not exist"),
        ValueError("a bug"),
    ],
)
def test_errors_of_the_query_or_the_code_are_not(error: Exception) -> None:
    assert not is_dependency_failure(error)
    assert not is_dependency_failure(wrapped(error))
