import pytest

from agenthub.errors import BadRequest
from agenthub.pagination import CursorCodec

KEY = b"k" * 32
SCOPE_A = "agents:TENANT#aaaa"
LAST_KEY_A = {"pk": {"S": "TENANT#aaaa"}, "sk": {"S": "AGENT#ag_1"}}


def test_cursor_round_trips_for_the_same_tenant_and_scope():
    codec = CursorCodec(KEY)
    cursor = codec.encode(LAST_KEY_A, scope=SCOPE_A)
    assert cursor is not None
    assert "TENANT" not in cursor  # opaque: not readable as text
    assert codec.decode(cursor, scope=SCOPE_A, tenant_id="aaaa") == LAST_KEY_A


def test_no_last_key_means_no_cursor():
    assert CursorCodec(KEY).encode(None, scope=SCOPE_A) is None
    assert CursorCodec(KEY).decode(None, scope=SCOPE_A, tenant_id="aaaa") is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c[:-2] + ("AA" if not c.endswith("AA") else "BB"),  # signature changed
        lambda c: "x" + c,  # payload changed
        lambda c: c.replace(".", ""),  # no signature
        lambda c: "not-a-cursor",
        lambda c: "",
    ],
)
def test_tampered_cursor_is_rejected(mutate):
    codec = CursorCodec(KEY)
    cursor = codec.encode(LAST_KEY_A, scope=SCOPE_A)
    tampered = mutate(cursor)
    if tampered == "":
        assert codec.decode(tampered, scope=SCOPE_A, tenant_id="aaaa") is None
        return
    with pytest.raises(BadRequest):
        codec.decode(tampered, scope=SCOPE_A, tenant_id="aaaa")


def test_cursor_of_another_tenant_is_rejected_even_when_validly_signed():
    # Given a genuine cursor issued to tenant aaaa
    codec = CursorCodec(KEY)
    cursor = codec.encode(LAST_KEY_A, scope=SCOPE_A)
    # When tenant bbbb presents it for its own list (its scope names its own partition)
    # Then it is refused: the scope differs and the key lies outside bbbb's partition
    with pytest.raises(BadRequest):
        codec.decode(cursor, scope="agents:TENANT#bbbb", tenant_id="bbbb")
    with pytest.raises(BadRequest):
        codec.decode(cursor, scope=SCOPE_A, tenant_id="bbbb")


def test_cursor_signed_with_another_key_is_rejected():
    forged = CursorCodec(b"z" * 32).encode(LAST_KEY_A, scope=SCOPE_A)
    with pytest.raises(BadRequest):
        CursorCodec(KEY).decode(forged, scope=SCOPE_A, tenant_id="aaaa")


def test_cursor_from_another_list_is_rejected():
    codec = CursorCodec(KEY)
    cursor = codec.encode(LAST_KEY_A, scope=SCOPE_A)
    with pytest.raises(BadRequest):
        codec.decode(cursor, scope="audit:TENANT#aaaa#AUDIT", tenant_id="aaaa")


def test_short_signing_key_is_refused():
    with pytest.raises(ValueError, match="too short"):
        CursorCodec(b"short")
