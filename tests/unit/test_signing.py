from __future__ import annotations

import pytest

from odr.domain.errors import Unauthenticated
from odr.domain.signing import MAX_SKEW, check_signature, check_timestamp, sign

BODY = '{"text": "理赔被拒"}'.encode()


def test_a_signature_covers_method_path_timestamp_and_body() -> None:
    good = sign("s3cret", "POST", "/api/v1/channel/complaints", "1700000000", BODY)
    check_signature("s3cret", "POST", "/api/v1/channel/complaints", "1700000000", BODY, good)
    for args in [
        ("other", "POST", "/api/v1/channel/complaints", "1700000000", BODY),
        ("s3cret", "PUT", "/api/v1/channel/complaints", "1700000000", BODY),
        ("s3cret", "POST", "/api/v1/channel/cases", "1700000000", BODY),
        ("s3cret", "POST", "/api/v1/channel/complaints", "1700000001", BODY),
        ("s3cret", "POST", "/api/v1/channel/complaints", "1700000000", BODY + b" "),
    ]:
        with pytest.raises(Unauthenticated) as err:
            check_signature(*args, good)
        assert err.value.code == "bad_signature"


def test_timestamps_outside_the_window_are_refused() -> None:
    now = 1_700_000_000.0
    check_timestamp(str(int(now) - MAX_SKEW), now)
    check_timestamp(str(int(now) + MAX_SKEW), now)
    for stamp in (str(int(now) - MAX_SKEW - 1), str(int(now) + MAX_SKEW + 1)):
        with pytest.raises(Unauthenticated) as err:
            check_timestamp(stamp, now)
        assert err.value.code == "stale_timestamp"
    with pytest.raises(Unauthenticated) as err:
        check_timestamp("yesterday", now)
    assert err.value.code == "invalid_timestamp"
