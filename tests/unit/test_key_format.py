import pytest

from identity.logic import key_format


def test_new_key_parses_back_to_its_tenant_and_key_id():
    tenant_id, key_id = key_format.new_tenant_id(), key_format.new_key_id()
    key = key_format.new_key("secret", tenant_id, key_id)
    parsed = key_format.parse_key(key)
    assert key.startswith("sk_")
    assert parsed == key_format.ParsedKey("secret", tenant_id, key_id)


def test_publishable_keys_have_their_own_prefix():
    key = key_format.new_key("publishable", key_format.new_tenant_id(), key_format.new_key_id())
    assert key.startswith("pk_")
    assert key_format.parse_key(key).key_type == "publishable"


def test_keys_are_unique_and_hash_is_stable():
    keys = {key_format.new_key("secret", "0" * 16, "1" * 12) for _ in range(200)}
    assert len(keys) == 200
    key = keys.pop()
    assert key_format.hash_key(key) == key_format.hash_key(key)
    assert key not in key_format.hash_key(key)


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "sk_",
        "xx_" + "a" * 60,
        "sk_" + "g" * 16 + "a" * 12 + "b" * 32,  # tenant id not hex
        "sk_" + "a" * 16 + "a" * 12 + "b" * 31,  # too short
        "sk_" + "a" * 16 + "a" * 12 + "b" * 31 + "!",  # secret not alphanumeric
    ],
)
def test_malformed_keys_do_not_parse(presented):
    assert key_format.parse_key(presented) is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_bearer_token(header, token):
    assert key_format.bearer_token(header) == token
