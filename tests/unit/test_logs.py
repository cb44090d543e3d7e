from __future__ import annotations

import json
import logging

from odr.logs import JsonFormatter, RequestIdFilter, request_id


def test_json_lines_carry_the_request_id_and_hide_secrets() -> None:
    record = logging.LogRecord("odr.http", logging.INFO, __file__, 1, "login %s", ("ok",), None)
    record.password = "hunter2-secret"  # a careless extra=
    record.case = "ODR-2026-000001"
    token = request_id.set("req-12345678")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "login ok" and line["request_id"] == "req-12345678"
    assert line["password"] == "[redacted]" and line["case"] == "ODR-2026-000001"
    assert "hunter2" not in JsonFormatter().format(record)
