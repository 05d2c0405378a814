"""The widget locally: CloudFront as the template declares it, and a customer's demo page.

``WidgetCdn`` plays the template's ``AWS::CloudFront::Distribution``: requests are matched to
its cache behaviours by path pattern (first match, else the default), the S3 origin is served
from the widget's build (``functions.widget.logic.assets``, rebuilt when a source changes), the
API origin is answered in process by the local API Gateway, and each behaviour's response
headers policy is applied (custom headers such as Cache-Control, security headers, CORS) — so
the browser gets the headers CloudFront would send. Not emulated: the edge cache itself (every
request reaches its origin), viewer protocol policies (everything here is http), OriginPath
(the local gateway serves the stage at its root), signed URLs, geo restrictions.

``DemoSite`` is a customer's website on another origin: a page that embeds the widget with the
one tag, and an FAQ page the demo agent learns from.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from functions.widget.logic import assets as widget_assets
from infra.local.server import HttpRequest, HttpResponse

LOG = logging.getLogger("infra.local")
Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]
DISTRIBUTION = "AWS::CloudFront::Distribution"
# CloudFront compresses objects of these types between 1,000 bytes and 10 MB.
_COMPRESSIBLE = ("text/", "application/json", "application/javascript", "image/svg+xml")
_S3_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
)


@dataclass
class Behavior:
    pattern: str | None  # None: the default behaviour
    origin: str  # "s3" | "api"
    methods: frozenset[str]
    compress: bool
    headers: list[tuple[str, str, bool]] = field(default_factory=list)  # name, value, override
    cors_origins: list[str] = field(default_factory=list)
    cors_override: bool = False

    def matches(self, path: str) -> bool:
        if self.pattern is None:
            return True
        pattern = self.pattern if self.pattern.startswith("/") else "/" + self.pattern
        return fnmatchcase(path, pattern)


def distribution_behaviors(cfn: dict[str, Any]) -> list[Behavior]:
    """The cache behaviours of the template's (first) distribution, default last."""
    resources = cfn.get("Resources") or {}
    found = [r for r in resources.values() if r.get("Type") == DISTRIBUTION]
    if not found:
        raise LookupError(f"the template has no {DISTRIBUTION}")
    config = found[0]["Properties"]["DistributionConfig"]
    origins = {o["Id"]: ("api" if "CustomOriginConfig" in o else "s3") for o in config["Origins"]}
    ordered = [*(config.get("CacheBehaviors") or []), config["DefaultCacheBehavior"]]
    behaviors = []
    for spec in ordered:
        behavior = Behavior(
            pattern=spec.get("PathPattern"),
            origin=origins[spec["TargetOriginId"]],
            methods=frozenset(spec.get("AllowedMethods") or ["GET", "HEAD"]),
            compress=bool(spec.get("Compress")),
        )
        policy_ref = spec.get("ResponseHeadersPolicyId")
        if isinstance(policy_ref, dict) and "Ref" in policy_ref:
            policy = resources[policy_ref["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"]
            _apply_policy(behavior, policy)
        behaviors.append(behavior)
    return behaviors


def _apply_policy(behavior: Behavior, policy: dict[str, Any]) -> None:
    for item in (policy.get("CustomHeadersConfig") or {}).get("Items") or []:
        behavior.headers.append((item["Header"], str(item["Value"]), bool(item["Override"])))
    security = policy.get("SecurityHeadersConfig") or {}
    if "StrictTransportSecurity" in security:
        hsts = security["StrictTransportSecurity"]
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        value += "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
        value += "; preload" if hsts.get("Preload") else ""
        behavior.headers.append(("Strict-Transport-Security", value, bool(hsts["Override"])))
    simple = {
        "ContentTypeOptions": ("X-Content-Type-Options", lambda s: "nosniff"),
        "ReferrerPolicy": ("Referrer-Policy", lambda s: s["ReferrerPolicy"]),
        "FrameOptions": ("X-Frame-Options", lambda s: s["FrameOption"]),
        "ContentSecurityPolicy": ("Content-Security-Policy", lambda s: s["ContentSecurityPolicy"]),
    }
    for key, (header, value_of) in simple.items():
        if key in security:
            override = bool(security[key]["Override"])
            behavior.headers.append((header, value_of(security[key]), override))
    cors = policy.get("CorsConfig")
    if cors:
        behavior.cors_origins = list(cors["AccessControlAllowOrigins"]["Items"])
        behavior.cors_override = bool(cors["OriginOverride"])


def distribution_parameters(cfn: dict[str, Any]) -> dict[str, str]:
    """SSM parameters whose value is ``https://${<Distribution>.DomainName}<rest>``:
    ``{logical id: rest}``. Functions read the distribution's URL through them (a function the
    distribution fronts cannot refer to it directly: that would be a circular dependency)."""
    resources = cfn.get("Resources") or {}
    distributions = {n for n, r in resources.items() if r.get("Type") == DISTRIBUTION}
    found = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::SSM::Parameter":
            continue
        value = (resource.get("Properties") or {}).get("Value")
        text = value.get("Fn::Sub") if isinstance(value, dict) else None
        for distribution in distributions:
            prefix = "https://${" + distribution + ".DomainName}"
            if (
                isinstance(text, str)
                and text.startswith(prefix)
                and "${" not in text[len(prefix) :]
            ):
                found[name] = text[len(prefix) :]
    return found


class AssetSource:
    """The widget's build, redone when a source file changes (checked at most once a second)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[float, ...] = ()
        self._checked = 0.0
        self._bundle: widget_assets.Bundle | None = None

    def bundle(self) -> widget_assets.Bundle:
        with self._lock:
            now = time.monotonic()
            if self._bundle is None or now - self._checked > 1.0:
                self._checked = now
                stamp = tuple(p.stat().st_mtime for p in sorted(widget_assets.SOURCE_DIR.iterdir()))
                if stamp != self._stamp or self._bundle is None:
                    self._bundle = widget_assets.build()
                    self._stamp = stamp
            return self._bundle


@dataclass(frozen=True)
class LogEntry:
    """One line of the CDN's access log (CloudFront's standard logs have these fields too)."""

    method: str
    path: str
    origin: str | None  # the request's Origin header
    status: int


class WidgetCdn:
    """Answers requests as the template's CloudFront distribution would. ``access_log`` keeps
    the last 2,000 requests: what reached the edge, from which origin, and the answer."""

    def __init__(self, cfn: dict[str, Any], api: Handler, source: AssetSource | None = None):
        self.behaviors = distribution_behaviors(cfn)
        self.api = api
        self.source = source or AssetSource()
        self.access_log: deque[LogEntry] = deque(maxlen=2000)

    async def handle(self, request: HttpRequest) -> HttpResponse:
        behavior = next(b for b in self.behaviors if b.matches(request.path))
        if request.method not in behavior.methods:
            body = b"<h1>403 ERROR</h1><p>The request could not be satisfied.</p>"
            response = HttpResponse(403, [("Content-Type", "text/html")], body)
        elif behavior.origin == "api":
            response = self._finish(request, behavior, await self.api(request))
        else:
            response = self._finish(request, behavior, self._object(request))
        entry = LogEntry(request.method, request.path, request.header("Origin"), response.status)
        self.access_log.append(entry)
        return response

    def _object(self, request: HttpRequest) -> HttpResponse:
        asset = self.source.bundle().assets.get(request.path.lstrip("/"))
        if asset is None:
            return HttpResponse(403, [("Content-Type", "application/xml")], _S3_DENIED)
        etag = '"' + hashlib.md5(asset.body, usedforsecurity=False).hexdigest() + '"'
        headers = [("Content-Type", asset.content_type), ("ETag", etag)]
        # S3 metadata as the deploy step uploads it; the behaviour's policy may override it.
        headers.append(("Cache-Control", asset.cache_control))
        if etag in (request.header("If-None-Match") or ""):
            return HttpResponse(304, headers, b"")
        return HttpResponse(200, headers, asset.body)

    def _finish(
        self, request: HttpRequest, behavior: Behavior, response: HttpResponse
    ) -> HttpResponse:
        headers = list(response.headers)
        for name, value, override in behavior.headers:
            present = any(k.lower() == name.lower() for k, _ in headers)
            if override:
                headers = [(k, v) for k, v in headers if k.lower() != name.lower()]
            if override or not present:
                headers.append((name, value))
        if behavior.cors_origins and request.header("Origin"):
            allow = "*" if "*" in behavior.cors_origins else request.header("Origin") or ""
            present = any(k.lower() == "access-control-allow-origin" for k, _ in headers)
            if behavior.cors_override or not present:
                headers = [(k, v) for k, v in headers if k.lower() != "access-control-allow-origin"]
                headers.append(("Access-Control-Allow-Origin", allow))
        body = response.body
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        if (
            behavior.compress
            and 1000 <= len(body) <= 10_000_000
            and "gzip" in (request.header("Accept-Encoding") or "")
            and content_type.startswith(_COMPRESSIBLE)
            and not any(k.lower() == "content-encoding" for k, _ in headers)
        ):
            body = gzip.compress(body, compresslevel=6, mtime=0)
            headers.append(("Content-Encoding", "gzip"))
        return HttpResponse(response.status, headers, body)


# ---------------------------------------------------------------------------- the demo site
FAQ_TITLE = "Demo Co — frequently asked questions"
FAQ_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body>
<h1>{title}</h1>
<h2>Opening hours</h2>
<p>Our shop in Lisbon is open Monday to Friday from 9:00 to 18:00 and on Saturdays from 10:00
to 14:00. We are closed on Sundays and public holidays.</p>
<h2>Delivery</h2>
<p>Orders placed before 14:00 ship the same day. Delivery in Portugal takes one to two working
days; delivery elsewhere in the European Union takes three to five working days. Shipping is
free for orders over 50 euros.</p>
<h2>Returns and refunds</h2>
<p>You may return any unused item within 30 days of delivery for a full refund. Print the
prepaid return label from your account page; the refund reaches your card within five working
days of the item arriving at our warehouse.</p>
<h2>Warranty</h2>
<p>Every Demo Co kettle carries a two-year warranty covering manufacturing defects.</p>
</body></html>
"""


class DemoSite:
    """A customer's site: ``/`` embeds the widget with exactly the tag the embed route returns,
    ``/faq.html`` is the page its agent learns from."""

    def __init__(self, loader_url: str, agent_id: str, publishable_key: str) -> None:
        tag = widget_assets.snippet(loader_url, agent_id, publishable_key)
        template = (widget_assets.SOURCE_DIR / "demo.html").read_text(encoding="utf-8")
        page = template.replace("{{snippet_text}}", html.escape(tag)).replace("{{snippet}}", tag)
        self.pages = {
            "/": page.encode(),
            "/faq.html": FAQ_HTML.format(title=html.escape(FAQ_TITLE)).encode(),
        }

    async def handle(self, request: HttpRequest) -> HttpResponse:
        body = self.pages.get(request.path)
        if body is None or request.method not in ("GET", "HEAD"):
            return HttpResponse(404, [("Content-Type", "text/plain")], b"not found")
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")]
        return HttpResponse(200, headers, body)


DEMO_AGENT_CHANGES = {
    "greeting": "Hi! I'm the Demo Co assistant. Ask me about opening hours, delivery or returns.",
    "suggested_questions": [
        "When are you open?",
        "How long does delivery take?",
        "Can I return an item?",
    ],
    "enabled_tools": ["knowledge", "lead_capture", "handoff"],
    "theme": {"title": "Demo Co help", "primary_color": "#0f766e"},
}


def prepare_demo(api_url: str, seed: dict[str, Any], demo_origin: str) -> str:
    """Make the seeded agent worth a demo, through the API: greeting, suggested questions, lead
    form and handoff, a theme, and the FAQ as a text source (the template forbids fetching URLs
    on this machine). Returns the publishable key for ``demo_origin`` (a new one when the seed's
    key does not allow it)."""
    owner, agent_id = seed["owner_key"], seed["agent_id"]
    agent = _api(api_url, "GET", f"/v1/agents/{agent_id}", owner)
    _api(
        api_url,
        "PATCH",
        f"/v1/agents/{agent_id}",
        owner,
        {**DEMO_AGENT_CHANGES, "version": agent["version"]},
    )
    text = html_text(FAQ_HTML.format(title=FAQ_TITLE))
    _api(
        api_url,
        "POST",
        f"/v1/agents/{agent_id}/documents",
        owner,
        {"source": {"type": "text", "text": text, "title": FAQ_TITLE, "format": "text"}},
    )
    if demo_origin in seed["allowed_origins"]:
        return str(seed["publishable_key"])
    created = _api(
        api_url,
        "POST",
        "/v1/publishable-keys",
        owner,
        {"agent_id": agent_id, "allowed_origins": [demo_origin], "name": "demo page"},
    )
    return str(created["secret"])


def html_text(page: str) -> str:
    """The text of a simple HTML page: a paragraph per heading or paragraph, tags dropped."""
    flat = re.sub(r"<head>.*?</head>", "", " ".join(page.split()))
    blocks = re.sub(r"</(?:h[1-6]|p)>", "\n\n", flat)
    text = html.unescape(re.sub(r"<[^>]+>", "", blocks))
    return "\n\n".join(part.strip() for part in text.split("\n\n") if part.strip())


def _api(
    api_url: str, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    request = urllib.request.Request(
        api_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise RuntimeError(f"{method} {path} answered {exc.code}: {detail}") from None
