"""SSRF-safe URL import. Address classes are checked through an injected resolver (no network);
redirects, byte caps, content types and timeouts against a real http.server on 127.0.0.1."""

import gzip
import ipaddress
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from knowledge.logic import fetch
from knowledge.logic.fetch import FetchLimits, UrlRejected, address_problem, fetch_url

BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "169.254.1.1",
    "100.64.0.1",  # CGNAT
    "0.0.0.0",
    "0.1.2.3",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.10",
    "198.18.0.1",
    "::",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "fe80::1%eth0",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2001:db8::1",
    "::127.0.0.1",  # IPv4-compatible
]
PUBLIC = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::5db8:d822"]


def resolver_for(mapping):
    """A getaddrinfo stand-in: host -> list of addresses."""

    def resolve(host, port, *args, **kwargs):
        if host not in mapping:
            raise socket.gaierror(socket.EAI_NONAME, "not found")
        out = []
        for address in mapping[host]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            out.append((family, socket.SOCK_STREAM, 6, "", (address, port)))
        return out

    return resolve


@pytest.fixture
def no_connections(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a blocked address must never be connected to")

    monkeypatch.setattr(fetch, "_connect", refuse)


@pytest.mark.parametrize("address", BLOCKED)
def test_every_blocked_address_class_is_refused(address, no_connections):
    resolver = resolver_for({"evil.test": [address]})
    with pytest.raises(UrlRejected) as caught:
        fetch_url("http://evil.test/", resolver=resolver)
    assert caught.value.reason == "private_address"


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass_the_check(address):
    assert address_problem(ipaddress.ip_address(address)) is None


def test_one_private_address_among_public_ones_is_enough_to_refuse(no_connections):
    resolver = resolver_for({"mixed.test": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(UrlRejected) as caught:
        fetch_url("https://mixed.test/doc.pdf", resolver=resolver)
    assert caught.value.reason == "private_address"


def test_allow_private_never_opens_link_local_or_metadata():
    metadata = ipaddress.ip_address("169.254.169.254")
    assert address_problem(metadata, allow_private=True) == "blocked"
    assert address_problem(ipaddress.ip_address("127.0.0.1"), allow_private=True) is None
    assert address_problem(ipaddress.ip_address("10.0.0.1"), allow_private=True) is None
    assert address_problem(ipaddress.ip_address("ff02::1"), allow_private=True) == "blocked"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/file.txt", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://example.com/", "scheme"),
        ("javascript:alert(1)", "scheme"),
        ("example.com/page", "scheme"),
        ("http://user:secret@example.com/", "host"),
        ("http:///nohost", "host"),
        ("http://example.com:99999/", "host"),
        ("http://nowhere.test/", "dns"),
    ],
)
def test_malformed_or_unsupported_urls(url, reason, no_connections):
    with pytest.raises(UrlRejected) as caught:
        fetch_url(url, resolver=resolver_for({}))
    assert caught.value.reason == reason
    assert caught.value.status == 422


def test_real_resolver_on_loopback_literals(no_connections):
    for url in ("http://127.0.0.1:1/", "http://[::1]:1/", "http://localhost:1/"):
        with pytest.raises(UrlRejected) as caught:
            fetch_url(url)
        assert caught.value.reason == "private_address"


# ------------------------------------------------------------------- a real local server


class Handler(BaseHTTPRequestHandler):
    requested: list[str] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, status, body=b"", content_type="text/plain", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name == "Content-Length" for name, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # one route table for the whole test server
        url = urlsplit(self.path)
        Handler.requested.append(url.path)
        query = parse_qs(url.query)
        if url.path == "/doc.html":
            self._send(200, b"<h1>Hello</h1><p>From the test server.</p>", "text/html")
        elif url.path == "/echo-host":
            self._send(200, f"host={self.headers['Host']}".encode(), "text/plain; charset=utf-8")
        elif url.path == "/redirect":
            self._send(302, headers=[("Location", query["to"][0])])
        elif url.path == "/loop":
            self._send(301, headers=[("Location", "/loop")])
        elif url.path == "/image.png":
            self._send(200, b"\x89PNG\r\n\x1a\n", "image/png")
        elif url.path == "/declared-huge":
            self._send(200, b"x" * 10, headers=[("Content-Length", "999999999")])
        elif url.path == "/streamed-huge":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b"y" * 10_000)
        elif url.path == "/gzip":
            body = gzip.compress(b"compressed text " * 10)
            self._send(200, body, "text/plain", headers=[("Content-Encoding", "gzip")])
        elif url.path == "/gzip-bomb":
            body = gzip.compress(b"\0" * 5_000_000)
            self._send(200, body, "text/plain", headers=[("Content-Encoding", "gzip")])
        elif url.path == "/files/report.pdf":
            self._send(200, b"%PDF-1.4 fake", "application/octet-stream")
        elif url.path == "/slow":
            time.sleep(2)
            self._send(200, b"late", "text/plain")
        else:
            self._send(404, b"missing")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


LOCAL = FetchLimits(max_bytes=100_000, connect_timeout=5, read_timeout=5, total_timeout=20)


def test_local_server_is_refused_without_allow_private(server):
    base, _ = server
    with pytest.raises(UrlRejected) as caught:
        fetch_url(f"{base}/doc.html", limits=LOCAL)
    assert caught.value.reason == "private_address"


def test_local_server_with_allow_private(server):
    base, _ = server
    fetched = fetch_url(f"{base}/doc.html", limits=LOCAL, allow_private=True)
    assert fetched.data.startswith(b"<h1>Hello</h1>")
    assert fetched.content_type == "text/html"
    assert fetched.file_name == "doc.html"
    assert fetched.final_url == fetched.url == f"{base}/doc.html"


def test_connection_is_pinned_to_the_checked_address_with_the_original_host(server, monkeypatch):
    # Given a public-looking host whose checked address we route to the test server
    _, port = server
    dialled = []

    def connect(address, port_, timeout):
        dialled.append(address)
        return socket.create_connection(("127.0.0.1", port), timeout=timeout)

    monkeypatch.setattr(fetch, "_connect", connect)
    resolver = resolver_for({"docs.example": ["93.184.216.34"]})
    # When it is fetched
    fetched = fetch_url(f"http://docs.example:{port}/echo-host", limits=LOCAL, resolver=resolver)
    # Then the socket went to the address that was checked, and Host names the URL's host
    assert dialled == ["93.184.216.34"]
    assert fetched.data == f"host=docs.example:{port}".encode()
    assert fetched.file_name == "echo-host.txt"


def test_redirect_to_a_private_address_is_refused_before_connecting(server, monkeypatch):
    _, port = server
    monkeypatch.setattr(
        fetch,
        "_connect",
        lambda address, port_, timeout: socket.create_connection(("127.0.0.1", port), timeout),
    )
    resolver = resolver_for({"public.example": ["93.184.216.34"], "internal.example": ["10.0.0.5"]})
    Handler.requested.clear()
    with pytest.raises(UrlRejected) as caught:
        fetch_url(
            f"http://public.example:{port}/redirect?to=http://internal.example:{port}/secret",
            limits=LOCAL,
            resolver=resolver,
        )
    assert caught.value.reason == "private_address"
    assert Handler.requested == ["/redirect"]  # /secret was never requested


def test_redirect_to_metadata_is_refused_even_with_allow_private(server):
    base, _ = server
    target = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(UrlRejected) as caught:
        fetch_url(f"{base}/redirect?to={target}", limits=LOCAL, allow_private=True)
    assert caught.value.reason == "private_address"


def test_redirects_are_followed_and_limited(server):
    base, _ = server
    fetched = fetch_url(f"{base}/redirect?to=/doc.html", limits=LOCAL, allow_private=True)
    assert fetched.final_url == f"{base}/doc.html"
    with pytest.raises(UrlRejected) as caught:
        fetch_url(f"{base}/loop", limits=LOCAL, allow_private=True)
    assert caught.value.reason == "redirect_limit"


def test_redirect_to_another_scheme_is_refused(server):
    base, _ = server
    with pytest.raises(UrlRejected) as caught:
        fetch_url(f"{base}/redirect?to=file:///etc/passwd", limits=LOCAL, allow_private=True)
    assert caught.value.reason == "scheme"


@pytest.mark.parametrize("path", ["/declared-huge", "/streamed-huge", "/gzip-bomb"])
def test_byte_cap(server, path):
    base, _ = server
    with pytest.raises(UrlRejected) as caught:
        fetch_url(f"{base}{path}", limits=LOCAL, allow_private=True)
    assert caught.value.reason == "too_large"
    assert caught.value.status == 413


def test_gzip_body_is_inflated(server):
    base, _ = server
    fetched = fetch_url(f"{base}/gzip", limits=LOCAL, allow_private=True)
    assert fetched.data == b"compressed text " * 10


def test_content_type_allowlist(server):
    base, _ = server
    with pytest.raises(UrlRejected) as caught:
        fetch_url(f"{base}/image.png", limits=LOCAL, allow_private=True)
    assert (caught.value.reason, caught.value.details["content_type"]) == (
        "content_type",
        "image/png",
    )
    # A generic type is accepted when the URL names a supported file; the parser checks it.
    fetched = fetch_url(f"{base}/files/report.pdf", limits=LOCAL, allow_private=True)
    assert fetched.file_name == "report.pdf"


def test_http_error_status(server):
    base, _ = server
    with pytest.raises(UrlRejected) as caught:
        fetch_url(f"{base}/nothing-here", limits=LOCAL, allow_private=True)
    assert (caught.value.reason, caught.value.details["status"]) == ("http_status", 404)


def test_read_timeout(server):
    base, _ = server
    quick = FetchLimits(read_timeout=0.2, total_timeout=5)
    with pytest.raises(UrlRejected) as caught:
        fetch_url(f"{base}/slow", limits=quick, allow_private=True)
    assert caught.value.reason == "timeout"


def test_unreachable_port():
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UrlRejected) as caught:
        fetch_url(f"http://127.0.0.1:{port}/", limits=LOCAL, allow_private=True)
    assert caught.value.reason == "unreachable"


# ------------------------------------------------------------------------------ https


def _certificate(tmp_path):
    """A CA and a server certificate for docs.example signed by it (PEM files)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject, issuer, key, signer, *, ca, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("Test CA", "Test CA", ca_key, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build("docs.example", "Test CA", key, ca_key, ca=False, san="docs.example")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_file, cert_file, key_file


@pytest.fixture
def tls_server(tmp_path):
    import ssl

    ca_file, cert_file, key_file = _certificate(tmp_path)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], ca_file
    httpd.shutdown()
    httpd.server_close()


def _route_to(port, monkeypatch):
    monkeypatch.setattr(
        fetch,
        "_connect",
        lambda address, port_, timeout: socket.create_connection(("127.0.0.1", port), timeout),
    )


def test_https_verifies_the_certificate_for_the_url_host(tls_server, monkeypatch):
    import ssl

    port, ca_file = tls_server
    _route_to(port, monkeypatch)
    original = ssl.create_default_context
    monkeypatch.setattr(fetch.ssl, "create_default_context", lambda: original(cafile=ca_file))
    resolver = resolver_for({"docs.example": ["93.184.216.34"], "other.example": ["93.184.216.35"]})
    # The certificate names docs.example: SNI and verification use the URL's host name.
    fetched = fetch_url(f"https://docs.example:{port}/doc.html", limits=LOCAL, resolver=resolver)
    assert fetched.data.startswith(b"<h1>Hello</h1>")
    # The same server reached under another name fails verification.
    with pytest.raises(UrlRejected) as caught:
        fetch_url(f"https://other.example:{port}/doc.html", limits=LOCAL, resolver=resolver)
    assert caught.value.reason == "tls"


def test_https_with_an_untrusted_certificate_is_refused(tls_server, monkeypatch):
    port, _ = tls_server
    _route_to(port, monkeypatch)
    resolver = resolver_for({"docs.example": ["93.184.216.34"]})
    with pytest.raises(UrlRejected) as caught:
        fetch_url(f"https://docs.example:{port}/doc.html", limits=LOCAL, resolver=resolver)
    assert caught.value.reason == "tls"
