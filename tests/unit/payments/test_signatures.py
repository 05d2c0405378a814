"""Our webhook signature check agrees with the official SDK's, case by case."""

from __future__ import annotations

import time

import pytest
import stripe

from payments.logic.signatures import SignatureInvalid, sign, verify

SECRET = "whsec_unit_0123456789abcdef"
BODY = b'{\n  "id": "evt_1",\n  "type": "checkout.session.completed"\n}'


def _sdk_accepts(body: bytes, header: str | None, secret: str) -> bool:
    try:
        stripe.WebhookSignature.verify_header(body.decode(), header, secret, tolerance=300)
    except stripe.SignatureVerificationError:
        return False
    return True


def _ours_accepts(body: bytes, header: str | None, secrets: list[str]) -> bool:
    try:
        verify(body, header, secrets)
    except SignatureInvalid:
        return False
    return True


def _cases(now: int) -> dict[str, tuple[bytes, str | None]]:
    """Built when each test runs: a timestamp taken at import would be stale minutes later."""
    return {
        "valid": (BODY, sign(BODY, SECRET, now)),
        "the SDK's own header": (
            BODY,
            stripe.WebhookSignature.generate_signature_header(BODY.decode(), SECRET, now),
        ),
        "wrong secret": (BODY, sign(BODY, "whsec_other", now)),
        "body changed": (BODY.replace(b"evt_1", b"evt_2"), sign(BODY, SECRET, now)),
        "stale": (BODY, sign(BODY, SECRET, now - 301)),
        "just within tolerance": (BODY, sign(BODY, SECRET, now - 290)),
        "no v1": (BODY, f"t={now}"),
        "no timestamp": (BODY, sign(BODY, SECRET, now).split(",", 1)[1]),
        "missing header": (BODY, None),
        "second v1 matches (secret roll)": (
            BODY,
            sign(BODY, "whsec_old", now) + "," + sign(BODY, SECRET, now).split(",")[1],
        ),
    }


ACCEPTED = {
    "valid",
    "the SDK's own header",
    "just within tolerance",
    "second v1 matches (secret roll)",
}


@pytest.mark.parametrize("case", sorted(_cases(0)))
def test_our_verifier_agrees_with_the_stripe_sdk(case: str) -> None:
    body, header = _cases(int(time.time()))[case]
    ours = _ours_accepts(body, header, [SECRET])
    assert ours == _sdk_accepts(body, header, SECRET)
    assert ours == (case in ACCEPTED)


def test_either_of_two_secrets_verifies_while_a_secret_is_rolled() -> None:
    header = sign(BODY, "whsec_previous", int(time.time()))
    assert _ours_accepts(BODY, header, [SECRET, "whsec_previous"])
    assert not _ours_accepts(BODY, header, [SECRET])


def test_a_timestamp_far_in_the_future_is_refused_though_the_sdk_accepts_it() -> None:
    header = sign(BODY, SECRET, int(time.time()) + 3600)
    assert _sdk_accepts(BODY, header, SECRET)
    assert not _ours_accepts(BODY, header, [SECRET])
