"""Reading JSON from strangers: bounded in size and in nesting, refused with a reason.

The API's request bodies and the hearing socket's messages both come through `loads`, so a
body of ``[`` × 100,000 or an object nested a thousand deep is a clear refusal, never a
`RecursionError` deep inside a handler. Pure standard library.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

#: No message of the product nests deeper than a handful of levels; 32 leaves room.
MAX_DEPTH = 32

Reason = Literal["too_large", "too_deep", "malformed", "control_character"]

#: C0 control characters and DEL, except tab, line feed and carriage return: no text of the
#: product carries them, PostgreSQL refuses NUL in text, and they hide text from a reader.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class JsonRejected(ValueError):
    """The text is not JSON the product accepts; ``reason`` says why."""

    def __init__(self, reason: Reason, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.reason: Reason = reason
        self.message = message
        self.where = where  # the field (dotted path) of a refused string, when known


def loads(raw: str | bytes, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """The decoded value of ``raw``, or `JsonRejected`: too large, nested deeper than
    ``max_depth``, not JSON, or a string (key or value) with a control character."""
    if len(raw) > max_bytes:
        raise JsonRejected("too_large", f"At most {max_bytes} bytes are accepted.")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JsonRejected("too_deep", f"JSON may nest at most {max_depth} levels.") from None
    except (ValueError, UnicodeDecodeError):
        raise JsonRejected("malformed", "The text is not valid JSON.") from None
    _check(value, max_depth)
    return value


def has_control_character(text: str) -> bool:
    return CONTROL_CHARACTERS.search(text) is not None


def _check(value: Any, max_depth: int) -> None:
    """Walk ``value`` without recursion: refuse nesting past ``max_depth`` and strings with
    control characters, naming the field."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        item, level, path = stack.pop()
        if isinstance(item, str):
            if has_control_character(item):
                raise JsonRejected(
                    "control_character", "Text may not contain control characters.", path or None
                )
            continue
        if isinstance(item, dict):
            pairs: Any = item.items()
        elif isinstance(item, list):
            pairs = enumerate(item)
        else:
            continue
        if level >= max_depth:
            raise JsonRejected("too_deep", f"JSON may nest at most {max_depth} levels.")
        for key, child in pairs:
            if isinstance(key, str) and has_control_character(key):
                raise JsonRejected(
                    "control_character", "Text may not contain control characters.", path or None
                )
            stack.append((child, level + 1, f"{path}.{key}" if path else str(key)))
