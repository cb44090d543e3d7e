"""Secrets at rest: sealing and opening TOTP secrets, key rotation, recovery code hashes, and
the device summaries of login sessions."""

from __future__ import annotations

import pytest

from odr.domain.devices import summarise_user_agent
from odr.services.recovery_codes import looks_like_recovery_code, new_codes, normalise
from odr.storage.sealed import SecretBox, UnreadableSecret, is_sealed

OLD, NEW = "o" * 40, "n" * 40


def test_a_sealed_secret_opens_and_shows_nothing_of_itself() -> None:
    box = SecretBox(OLD)
    sealed = box.seal("JBSWY3DPEHPK3PXP")
    assert is_sealed(sealed) and "JBSWY3DPEHPK3PXP" not in sealed and len(sealed) <= 255
    assert box.seal("JBSWY3DPEHPK3PXP") != sealed  # a fresh nonce each time
    assert box.open(sealed) == "JBSWY3DPEHPK3PXP"


def test_rotation_reads_old_values_until_they_are_sealed_again() -> None:
    sealed = SecretBox(OLD).seal("JBSWY3DPEHPK3PXP")
    with pytest.raises(UnreadableSecret):
        SecretBox(NEW).open(sealed)  # the previous key is not listed
    rotated = SecretBox(NEW, previous=[OLD])
    assert rotated.open(sealed) == "JBSWY3DPEHPK3PXP" and rotated.needs_reseal(sealed)
    again = rotated.seal(rotated.open(sealed))
    assert not rotated.needs_reseal(again) and SecretBox(NEW).open(again) == "JBSWY3DPEHPK3PXP"
    # recovery codes made before the rotation still match
    assert SecretBox(OLD).code_hash("abcde23456") in rotated.code_hashes("abcde23456")


def test_an_altered_or_foreign_value_is_refused() -> None:
    box = SecretBox(OLD)
    sealed = box.seal("JBSWY3DPEHPK3PXP")
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(UnreadableSecret):
        box.open(tampered)
    with pytest.raises(UnreadableSecret):
        box.open("JBSWY3DPEHPK3PXP")  # a secret never sealed
    with pytest.raises(ValueError):
        SecretBox("")


def test_the_two_purposes_use_different_keys() -> None:
    box = SecretBox(OLD)
    assert box.code_hash("abcde23456") != SecretBox(NEW).code_hash("abcde23456")
    assert len(box.code_hash("abcde23456")) == 64


def test_recovery_codes_are_typed_loosely() -> None:
    codes = new_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    for code in codes:
        assert looks_like_recovery_code(code) and looks_like_recovery_code(code.upper())
    assert normalise(" ABCDE－23456 ".replace("－", "-")) == "abcde23456"
    assert normalise("ＡＢＣＤＥ23456") == "abcde23456"  # full-width letters
    assert not looks_like_recovery_code("123456")  # a TOTP code is not one
    assert not looks_like_recovery_code("abcde-2345l")  # l is not in the alphabet


@pytest.mark.parametrize(
    ("agent", "shown"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Safari/537.36",
            "Chrome · Windows",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "Safari · iPhone",
        ),
        (
            "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/116.0 Mobile Safari/537.36 "
            "MicroMessenger/8.0.40",
            "WeChat · Android",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "Firefox · Linux",
        ),
        (
            "Mozilla/5.0 (Macintosh) AppleWebKit/537.36 Chrome/126 Safari/537.36 Edg/126",
            "Edge · macOS",
        ),
        ("Python/3.11 aiohttp/3.14", "?"),
        (None, "?"),
    ],
)
def test_user_agents_are_summarised(agent: str | None, shown: str) -> None:
    assert summarise_user_agent(agent) == shown
