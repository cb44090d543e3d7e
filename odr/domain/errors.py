"""Domain errors: each carries a stable machine-readable code.

The HTTP layer maps error *kinds* (the subclasses below) to status codes in one place
(`odr.api.errors`); the code string is what clients and tests rely on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """Base of every error raised by the domain and the services."""

    code: str = "domain_error"

    def __init__(
        self, message: str, *, code: str | None = None, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = dict(details or {})


class ValidationFailed(DomainError):
    """Input that breaks a rule; ``details['field']`` names the field when there is one."""

    code = "validation_failed"


class NotFound(DomainError):
    """The thing does not exist, or the actor may not know that it exists."""

    code = "not_found"


class Forbidden(DomainError):
    """The actor can see the thing but may not do this to it."""

    code = "forbidden"


class Unauthenticated(DomainError):
    """No valid login (or second factor) for an action that needs one."""

    code = "unauthenticated"


class Conflict(DomainError):
    """The action contradicts the current state (illegal transition, duplicate, stale version)."""

    code = "conflict"


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` says when to try again, in seconds."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.retry_after = retry_after


class AtCapacity(DomainError):
    """This node already serves as much of something as it can hold (live hearings); the
    request may succeed later or on another node; ``retry_after`` says when, in seconds."""

    code = "at_capacity"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.retry_after = retry_after
