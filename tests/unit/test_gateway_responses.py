"""The local gateway shapes API Gateway's own responses from the template's GatewayResponses:
static header values and values mapped from the request (the caller's Origin)."""

from __future__ import annotations

from infra.local.gateway import _response_headers
from infra.local.server import HttpRequest


def _request(**headers: str) -> HttpRequest:
    return HttpRequest("GET", "/x", "/x", "", "HTTP/1.1", list(headers.items()), b"", "127.0.0.1")


PARAMETERS = {
    "Headers": {
        "Access-Control-Allow-Origin": "method.request.header.Origin",
        "Access-Control-Expose-Headers": "'Retry-After'",
        "Retry-After": "'1'",
    }
}


def test_a_refusal_echoes_the_callers_origin_and_exposes_retry_after() -> None:
    headers = _response_headers(PARAMETERS, _request(Origin="https://shop.example"))
    assert headers == [
        ("Access-Control-Allow-Origin", "https://shop.example"),
        ("Access-Control-Expose-Headers", "Retry-After"),
        ("Retry-After", "1"),
    ]


def test_a_request_without_the_mapped_header_gets_no_such_header() -> None:
    names = [name for name, _ in _response_headers(PARAMETERS, _request())]
    assert names == ["Access-Control-Expose-Headers", "Retry-After"]


def test_cloudformations_spelling_is_read_too() -> None:
    raw = {"gatewayresponse.header.Vary": "'Origin'"}
    assert _response_headers(raw, _request()) == [("Vary", "Origin")]
