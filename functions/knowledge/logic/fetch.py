"""SSRF-safe URL import: fetch one document over http(s) without ever reaching an internal
address.

Every hop (the URL and each redirect) goes through the same steps:

1. The URL must be http or https, with a host and no user:password part. Any port is allowed:
   the address is what is checked, not the port.
2. The host is resolved once. If ANY address it resolves to is not public (loopback, RFC 1918,
   link-local incl. the 169.254.169.254 metadata endpoint, CGNAT, multicast, reserved,
   unspecified, broadcast, documentation ranges, and the IPv6 equivalents, including
   IPv4-mapped, NAT64 and 6to4 forms that embed a blocked IPv4 address), the URL is refused.
3. The connection goes to that checked address: there is no second DNS lookup, so DNS
   rebinding has no window. The Host header, TLS SNI and certificate verification use the
   hostname from the URL.
4. Redirects are followed by hand (at most ``max_redirects``), each one re-resolved and
   re-checked from step 1.
5. The response must be 2xx with an allowed content type; Content-Length is checked against
   the byte cap before reading, and the body is read in pieces and abandoned past the cap.
   Identity encoding is requested; a gzip/deflate body a server sends anyway is inflated with
   the same cap.

Timeouts: ``connect_timeout`` per connection attempt, ``read_timeout`` per socket read, and a
``total_timeout`` deadline across all hops. (DNS resolution itself has no timeout in the
standard library; the resolver's own timeouts apply.)

``allow_private=True`` admits loopback and private (RFC 1918 / ULA) addresses, so the local
runtime and its tests can import from a server on 127.0.0.1. It must never be set in AWS: the
template pins ALLOW_PRIVATE_URLS to "false". Even then, link-local (cloud metadata), multicast,
reserved and unspecified addresses stay blocked.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from agenthub.errors import ValidationFailed

MIB = 1024 * 1024
DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

# Allowed media types and the extension a fetched file is named with.
CONTENT_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
    "text/csv": ".csv",
    "application/pdf": ".pdf",
    DOCX_CONTENT_TYPE: ".docx",
}
_EXTENSIONS = {".html", ".htm", ".txt", ".md", ".csv", ".pdf", ".docx"}
# Servers (S3, CDNs, raw file hosts) often send these for files; accepted only when the URL's
# path names a supported extension. The parser checks the content against it.
_GENERIC_TYPES = {"application/octet-stream", "binary/octet-stream", ""}
_REDIRECTS = {301, 302, 303, 307, 308}
_READ_SIZE = 64 * 1024

Resolver = Callable[..., list[tuple[Any, ...]]]


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int = 10 * MIB  # the same as parsing.Limits.max_bytes
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_redirects: int = 5
    user_agent: str = "AgentHub-KnowledgeImport/1.0"


@dataclass(frozen=True)
class FetchedDocument:
    url: str
    final_url: str
    content_type: str  # as the server sent it, parameters (charset) included
    data: bytes
    file_name: str


class UrlRejected(ValidationFailed):
    """A URL we will not import, with a machine ``reason``.

    Reasons: scheme, host, dns, private_address, redirect_limit, too_large, content_type,
    timeout, http_status, unreachable, tls.
    """

    code = "url_rejected"
    _STATUS_BY_REASON = {"too_large": 413, "content_type": 415}

    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message, details={"reason": reason, **details})
        self.reason = reason
        self.status = self._STATUS_BY_REASON.get(reason, 422)


# --------------------------------------------------------------------------- address policy

_ALWAYS_BLOCKED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",  # "this network", 0.0.0.0
        "100.64.0.0/10",  # carrier-grade NAT
        "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast 255.255.255.255
        "::/128",  # unspecified
        "::/96",  # IPv4-compatible (deprecated)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments, Teredo
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",
        "127.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::1/128",
        "fc00::/7",  # unique local
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIXTOFOUR = ipaddress.ip_network("2002::/16")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIXTOFOUR:
        return ip.sixtofour
    return None


def address_problem(ip: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why an address may not be fetched from ("private" or "blocked"), or None if it may."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_v4(ip)
        if embedded is not None:
            return address_problem(embedded, allow_private=allow_private)
    if any(ip in net for net in _ALWAYS_BLOCKED if net.version == ip.version):
        return "blocked"
    if any(ip in net for net in _PRIVATE if net.version == ip.version):
        return None if allow_private else "private"
    # Anything else Python does not consider globally routable (future reservations).
    return None if ip.is_global else "blocked"


# ------------------------------------------------------------------------------- one hop


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # as in the URL (IDNA-encoded), for Host, SNI and the certificate
    port: int
    path: str


def _target(url: str) -> _Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRejected("host", f"The URL is not valid: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise UrlRejected("scheme", "Only http:// and https:// URLs can be imported.")
    if parts.username is not None or parts.password is not None:
        raise UrlRejected("host", "URLs with a user name or password cannot be imported.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRejected("host", "The URL has no host name.")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise UrlRejected("host", "The URL's host name is not valid.") from exc
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(url, scheme, host, port or (443 if scheme == "https" else 80), path)


def _resolve(target: _Target, resolver: Resolver, *, allow_private: bool) -> list[str]:
    try:
        infos = resolver(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UrlRejected("dns", f"The host {target.host} could not be resolved.") from exc
    addresses = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone ("fe80::1%eth0")
        try:
            ip = ipaddress.ip_address(raw)
        except ValueError as exc:
            raise UrlRejected("dns", f"The host {target.host} resolved to {raw!r}.") from exc
        problem = address_problem(ip, allow_private=allow_private)
        if problem:
            raise UrlRejected(
                "private_address",
                f"The host {target.host} points to an internal or reserved address, "
                "which cannot be imported from. Use a public URL.",
                address=str(ip),
            )
        if str(ip) not in addresses:
            addresses.append(str(ip))
    if not addresses:
        raise UrlRejected("dns", f"The host {target.host} has no address.")
    return addresses


def _connect(address: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to a checked address: an IP literal, so no DNS lookup happens here."""
    return socket.create_connection((address, port), timeout=timeout)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: _Target, address: str, timeouts: tuple[float, float]) -> None:
        super().__init__(target.host, target.port, timeout=timeouts[1])
        self._address = address
        self._connect_timeout = timeouts[0]

    def connect(self) -> None:
        self.sock = _connect(self._address, self.port, self._connect_timeout)
        self.sock.settimeout(self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: _Target, address: str, timeouts: tuple[float, float]) -> None:
        context = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeouts[1], context=context)
        self._address = address
        self._connect_timeout = timeouts[0]
        self._tls = context

    def connect(self) -> None:
        sock = _connect(self._address, self.port, self._connect_timeout)
        sock.settimeout(self.timeout)
        # SNI and certificate verification for the URL's host name, not the address.
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self, cap: float) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise UrlRejected("timeout", "The server took too long to answer.")
        return min(cap, remaining)


def _open(
    target: _Target, address: str, limits: FetchLimits, deadline: _Deadline
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    timeouts = (deadline.left(limits.connect_timeout), deadline.left(limits.read_timeout))
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, address, timeouts)
    accept = ", ".join(CONTENT_TYPES) + ", */*;q=0.1"
    connection.request(
        "GET",
        target.path,
        headers={
            "User-Agent": limits.user_agent,
            "Accept": accept,
            "Accept-Encoding": "identity",
        },
    )
    return connection, connection.getresponse()


def _request(
    target: _Target, addresses: list[str], limits: FetchLimits, deadline: _Deadline
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    last: OSError | None = None
    for address in addresses:  # every address was checked; try them in order
        try:
            return _open(target, address, limits, deadline)
        except ssl.SSLError as exc:
            raise UrlRejected(
                "tls", f"A secure connection to {target.host} failed ({exc.reason})."
            ) from exc
        except TimeoutError as exc:
            raise UrlRejected("timeout", "The server took too long to answer.") from exc
        except (OSError, http.client.HTTPException) as exc:
            last = exc if isinstance(exc, OSError) else OSError(str(exc))
    raise UrlRejected("unreachable", f"The server at {target.host} could not be reached.") from last


# ------------------------------------------------------------------------------- the body


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _check_content_type(
    target: _Target,
    content_type: str,
    allowed: Sequence[str] | None = None,
    also: Collection[str] = (),
) -> None:
    media = _media_type(content_type)
    if allowed is not None:  # a caller's own list (scheduling imports text/calendar)
        if media in allowed:
            return
        raise UrlRejected(
            "content_type",
            f"The URL returned {media or 'content of no declared type'}, not one of "
            f"{', '.join(allowed)}.",
            content_type=media,
        )
    if media in CONTENT_TYPES or media in also:
        return
    extension = PurePosixPath(unquote(urlsplit(target.url).path)).suffix.lower()
    if media in _GENERIC_TYPES and extension in _EXTENSIONS:
        return
    raise UrlRejected(
        "content_type",
        f"The URL returned {media or 'content of no declared type'}, which cannot be imported. "
        "Supported: web pages, text, Markdown, CSV, PDF and .docx.",
        content_type=media,
    )


def _too_large(limit: int) -> UrlRejected:
    return UrlRejected(
        "too_large",
        f"The document at the URL is larger than the limit of {limit:,} bytes.",
        maximum=limit,
    )


def _read_body(
    connection: http.client.HTTPConnection,
    response: http.client.HTTPResponse,
    limits: FetchLimits,
    deadline: _Deadline,
) -> bytes:
    length = response.getheader("Content-Length")
    if length and length.strip().isdigit() and int(length) > limits.max_bytes:
        raise _too_large(limits.max_bytes)
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding not in {"identity", "gzip", "x-gzip", "deflate"}:
        raise UrlRejected(
            "content_type", f"The server sent an unsupported content encoding ({encoding})."
        )
    # wbits 47: a gzip or zlib header, detected automatically (headerless deflate is not
    # supported; identity is what we ask for anyway).
    inflater = zlib.decompressobj(47) if encoding != "identity" else None
    body = bytearray()
    while True:
        if connection.sock is not None:  # bound every read by the overall deadline too
            connection.sock.settimeout(deadline.left(limits.read_timeout))
        try:
            piece = response.read(_READ_SIZE)
        except TimeoutError as exc:
            raise UrlRejected("timeout", "The server took too long to send the document.") from exc
        if not piece:
            break
        if inflater is not None:
            piece = _inflate(inflater, piece, limits.max_bytes - len(body))
        body += piece
        if len(body) > limits.max_bytes:
            raise _too_large(limits.max_bytes)
    if inflater is not None:
        body += inflater.flush()
        if len(body) > limits.max_bytes:
            raise _too_large(limits.max_bytes)
    return bytes(body)


def _inflate(inflater: Any, piece: bytes, room: int) -> bytes:
    try:
        out = inflater.decompress(piece, room + 1)  # never inflate past the cap
    except zlib.error as exc:
        raise UrlRejected("content_type", "The server sent a damaged compressed body.") from exc
    if inflater.unconsumed_tail:  # more output waiting: the cap is passed
        return out + b"\0"
    return out


def file_name_for(final_url: str, content_type: str) -> str:
    """The name a fetched document goes by: the URL's, with the extension of its type."""
    parts = urlsplit(final_url)
    name = PurePosixPath(unquote(parts.path)).name
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '/\\:*?"<>|')[:200]
    expected = CONTENT_TYPES.get(_media_type(content_type))
    suffix = PurePosixPath(name).suffix.lower()
    if expected is None:  # a generic type: the URL's own (supported) extension stands
        return name or parts.hostname or "download"
    if suffix == expected or (expected == ".html" and suffix == ".htm"):
        return name
    return f"{name or parts.hostname or 'index'}{expected}"


def fetch_url(
    url: str,
    *,
    limits: FetchLimits | None = None,
    resolver: Resolver = socket.getaddrinfo,
    allow_private: bool = False,
    content_types: Sequence[str] | None = None,
    also_accept: Collection[str] = (),
) -> FetchedDocument:
    """Fetch a document for import, or raise UrlRejected (see the module docstring).
    ``content_types`` replaces the document types allowed by default; ``also_accept`` adds
    media types on top of them (a sitemap's XML)."""
    limits = limits or FetchLimits()
    deadline = _Deadline(limits.total_timeout)
    current = url
    for _hop in range(limits.max_redirects + 1):
        target = _target(current)
        addresses = _resolve(target, resolver, allow_private=allow_private)
        connection, response = _request(target, addresses, limits, deadline)
        try:
            if response.status in _REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise UrlRejected("http_status", "The server redirected nowhere.")
                current = urljoin(current, location.strip())
                continue
            if not 200 <= response.status < 300:
                raise UrlRejected(
                    "http_status",
                    f"The server answered {response.status} {response.reason}.",
                    status=response.status,
                )
            content_type = response.getheader("Content-Type") or ""
            _check_content_type(target, content_type, content_types, also_accept)
            data = _read_body(connection, response, limits, deadline)
        finally:
            connection.close()
        return FetchedDocument(
            url=url,
            final_url=current,
            content_type=content_type,
            data=data,
            file_name=file_name_for(current, content_type),
        )
    raise UrlRejected(
        "redirect_limit", f"The URL redirected more than {limits.max_redirects} times."
    )
