"""Verified tokens are remembered, without remembering past their expiry or their signature."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from salesops import auth
from salesops.auth import TokenIssuer
from salesops.clock import ManualClock

SECRET = "a-test-secret-that-is-at-least-32-characters"


def test_a_remembered_token_still_expires_by_the_injected_clock() -> None:
    clock = ManualClock()
    issuer = TokenIssuer(SECRET, "salesops", clock)
    token = issuer.mint("rep-zhang-wei", ttl=timedelta(hours=1))
    assert issuer.subject_of(token) == "rep-zhang-wei"
    assert issuer.subject_of(token) == "rep-zhang-wei"  # now from memory
    clock.advance(timedelta(hours=1))
    with pytest.raises(jwt.ExpiredSignatureError):
        issuer.subject_of(token)


def test_a_token_altered_after_a_valid_one_was_remembered_is_refused() -> None:
    issuer = TokenIssuer(SECRET, "salesops", ManualClock())
    token = issuer.mint("rep-zhang-wei")
    assert issuer.subject_of(token) == "rep-zhang-wei"
    header, _payload, signature = token.split(".")
    forged = TokenIssuer("another-secret-that-is-32-characters-long", "salesops").mint(
        "sd-zhao-guoqiang"
    )
    with pytest.raises(jwt.InvalidSignatureError):
        issuer.subject_of(f"{header}.{forged.split('.')[1]}.{signature}")
    with pytest.raises(jwt.InvalidSignatureError):
        issuer.subject_of(forged)


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_VERIFIED_TOKENS", 3)
    issuer = TokenIssuer(SECRET, "salesops", ManualClock())
    tokens = [issuer.mint(f"p-{i}") for i in range(5)]
    assert [issuer.subject_of(token) for token in tokens] == [f"p-{i}" for i in range(5)]
    assert len(issuer._verified) == 3
    assert tokens[0] not in issuer._verified
    assert issuer.subject_of(tokens[0]) == "p-0"  # verified again, not refused
