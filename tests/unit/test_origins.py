import pytest

from agenthub.origins import normalize_origin, origin_allowed


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Shop.Example.com/", "https://shop.example.com"),
        ("http://localhost:8080", "http://localhost:8080"),
        ("https://*.example.com", "https://*.example.com"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
    ],
)
def test_valid_origins_are_normalized(raw, expected):
    assert normalize_origin(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "example.com",
        "ftp://example.com",
        "https://example.com/path",
        "https://example.com?q=1",
        "https://*.com",
        "http://*.example.com",
        "https://*",
        "https://exa mple.com",
        "https://example.com:99999",
        "javascript:alert(1)",
        "",
    ],
)
def test_invalid_origins_are_rejected(raw):
    with pytest.raises(ValueError):
        normalize_origin(raw)


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example.com", True),
        ("https://SHOP.example.com", True),
        ("https://a.example.com", True),
        ("https://a.b.example.com", True),
        ("https://example.com", False),
        ("http://a.example.com", False),
        ("https://evilexample.com", False),
        ("https://a.example.com.evil.io", False),
        ("https://a.example.com:8443", False),
        ("null", False),
        ("", False),
    ],
)
def test_origin_matching(origin, allowed):
    patterns = ["https://shop.example.com", "https://*.example.com"]
    assert origin_allowed(origin, patterns) is allowed
