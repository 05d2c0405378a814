"""How the widget is delivered, over plain HTTP: the embed route, the files and headers of the
(local) CloudFront, the API's public routes behind it answering CORS for exactly the caller's
origin, and the distribution as template.yaml declares it (which the local one reads)."""

from __future__ import annotations

import gzip
import hashlib
import re
from typing import Any

import pytest
import requests

from functions.widget.logic import assets as widget_assets
from infra.local.runtime import PROJECT_ROOT
from infra.local.template import load_template
from tests.e2e.api import assert_error
from tests.e2e.browser.conftest import WidgetSite
from tests.e2e.support import bearer

LOADER_CACHE = "public, max-age=86400"
VERSIONED_CACHE = "public, max-age=2592000, immutable"


def _get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=30)


# ---------------------------------------------------------------------------- the embed route


def test_the_embed_route_returns_the_tag_for_the_agents_first_active_key(
    widget_site: WidgetSite,
) -> None:
    # Given an agent with a publishable key, and a viewer (the least role)
    api, tenant = widget_site.api, widget_site.tenant
    viewer = api.new_key(tenant, "viewer")["secret"]
    # When the embed code is asked for
    code = api.ok("GET", f"/v1/agents/{widget_site.agent_id}/embed", viewer)
    # Then it is one script tag: the CloudFront loader, the agent, the key
    loader = widget_site.cdn_url + "/widget.js"
    assert code["agent_id"] == widget_site.agent_id
    assert code["loader_url"] == loader
    key = code["publishable_key"]
    assert key["id"] == widget_site.key_id
    assert key["allowed_origins"] == [widget_site.allowed_origin]
    assert key["last4"] == widget_site.publishable_key[-4:]
    # identity keeps only a hash of publishable keys today: the tag then names the key's last
    # four characters for the tenant to paste it; once identity lists the key, the tag has it
    value = (
        widget_site.publishable_key
        if key["included"]
        else f"PASTE_YOUR_PUBLISHABLE_KEY_ENDING_IN_{key['last4']}"
    )
    assert code["snippet"] == (
        f'<script src="{loader}" data-agent="{widget_site.agent_id}" data-key="{value}" '
        "async></script>"
    )
    # And no secret is in it
    assert "sk_" not in code["snippet"]


def test_the_embed_route_refuses_what_it_must(widget_site: WidgetSite) -> None:
    api, tenant = widget_site.api, widget_site.tenant
    owner = tenant.owner_key
    # another tenant's agent, or no agent: 404
    other = api.new_tenant("Someone else")
    path = f"/v1/agents/{widget_site.agent_id}/embed"
    assert_error(api.call("GET", path, other.owner_key), 404)
    assert_error(api.call("GET", "/v1/agents/ag_0000000000000000/embed", owner), 404)
    # an agent whose only key is revoked: 409, saying how to make one
    agent = api.new_agent(owner, name="Keyless", allowed_origins=["https://shop.example.com"])
    created = api.ok("POST", "/v1/publishable-keys", owner, json={"agent_id": agent["id"]})
    api.ok("DELETE", f"/v1/publishable-keys/{created['id']}", owner)
    error = assert_error(api.call("GET", f"/v1/agents/{agent['id']}/embed", owner), 409)
    assert "POST /v1/publishable-keys" in error["message"]
    # a publishable key: 403; no key: 401
    response = api.call(
        "GET", path, widget_site.publishable_key, headers={"Origin": widget_site.allowed_origin}
    )
    assert response.status_code == 403
    assert api.call("GET", path).status_code == 401


# ---------------------------------------------------------------------------- the files


def test_the_loader_names_ui_files_by_their_content_and_caches_them_as_cloudfront_does(
    widget_site: WidgetSite,
) -> None:
    # Given the loader as a browser gets it
    loader = _get(widget_site.cdn_url + "/widget.js", **{"Accept-Encoding": "identity"})
    assert loader.status_code == 200
    assert loader.headers["Content-Type"].startswith("text/javascript")
    assert loader.headers["Cache-Control"] == LOADER_CACHE
    # Then it names the UI files by a hash of their content, and those are cached for 30 days
    names = re.findall(r'"(ui\.([0-9a-f]{12})\.(?:js|css))"', loader.text)
    assert {name.rsplit(".", 1)[1] for name, _ in names} == {"js", "css"}
    for name, digest in names:
        file = _get(f"{widget_site.cdn_url}/{name}", **{"Accept-Encoding": "gzip"})
        assert file.status_code == 200, name
        assert file.headers["Cache-Control"] == VERSIONED_CACHE
        assert file.headers["Content-Encoding"] == "gzip"
        assert hashlib.sha256(file.content).hexdigest()[:12] == digest
        # a revalidation is cheap
        again = _get(f"{widget_site.cdn_url}/{name}", **{"If-None-Match": file.headers["ETag"]})
        assert again.status_code == 304
    # And every file carries the security headers of its response headers policy
    for header, value in {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    }.items():
        assert loader.headers[header] == value


def test_the_edge_serves_nothing_else(widget_site: WidgetSite) -> None:
    # an unknown file is S3's 403 through origin access control; so is the bucket's root
    for path in ("/ui.000000000000.js", "/", "/manifest.json"):
        response = _get(widget_site.cdn_url + path)
        assert response.status_code == 403, path
        assert b"AccessDenied" in response.content
    # a method the behaviour does not allow is refused at the edge
    assert requests.post(widget_site.cdn_url + "/widget.js", timeout=30).status_code == 403
    # and the API's secret-key routes are not behind the distribution at all
    response = _get(f"{widget_site.cdn_url}/v1/agents", **bearer(widget_site.tenant.owner_key))
    assert response.status_code == 403


def test_the_local_files_are_the_build(widget_site: WidgetSite) -> None:
    # Given the build the deploy step uploads
    bundle = widget_assets.build()
    # Then the local CloudFront serves exactly those bytes, and gzipped they meet the goals
    for asset in bundle.assets.values():
        served = _get(f"{widget_site.cdn_url}/{asset.name}", **{"Accept-Encoding": "identity"})
        assert served.content == asset.body, asset.name
    assert bundle.loader.gzipped_size <= 5 * 1024
    assert sum(len(gzip.compress(a.body)) for a in bundle.first_open()) <= 40 * 1024


# ---------------------------------------------------------------------------- the API behind it


def _public(site: WidgetSite, method: str, path: str, origin: str, **body: Any) -> Any:
    headers = {**bearer(site.publishable_key), "Origin": origin}
    url = f"{site.cdn_url}/v1/public/agents/{site.agent_id}{path}"
    return requests.request(method, url, headers=headers, json=body or None, timeout=30)


def test_every_public_route_answers_cors_for_exactly_the_callers_origin(
    widget_site: WidgetSite,
) -> None:
    origin = widget_site.allowed_origin
    # the public config: cacheable 15 min at the edge, 5 in the browser, keyed on Origin
    config = _public(widget_site, "GET", "/config", origin)
    assert config.status_code == 200
    assert config.headers["Access-Control-Allow-Origin"] == origin
    assert config.headers["Cache-Control"] == "public, max-age=300, s-maxage=900"
    assert "Origin" in config.headers["Vary"]
    assert config.headers["X-Frame-Options"] == "DENY"
    assert set(config.json()) >= {"greeting", "suggested_questions", "theme"}
    assert "allowed_origins" not in config.json() and "instructions" not in config.json()
    # the conversation routes
    started = _public(widget_site, "POST", "/conversations", origin)
    assert started.status_code == 201, started.text
    conversation = started.json()["conversation"]["id"]
    token = started.json()["visitor_token"]
    base = f"/conversations/{conversation}"
    asked = _public(
        widget_site,
        "POST",
        f"{base}/messages",
        origin,
        text="Are you open on Saturdays?",
        visitor_token=token,
    )
    answer = asked.json()["answer"]["id"]
    calls = [
        started,
        asked,
        _public(widget_site, "GET", f"{base}?visitor_token={token}", origin),
        _public(
            widget_site,
            "POST",
            f"{base}/messages/{answer}/feedback",
            origin,
            rating="down",
            visitor_token=token,
        ),
        _public(
            widget_site, "POST", f"{base}/lead", origin, phone="+351210000000", visitor_token=token
        ),
        _public(widget_site, "POST", f"{base}/handoff", origin, visitor_token=token),
        # an error too: the widget must be able to read why
        _public(widget_site, "POST", f"{base}/lead", origin, visitor_token=token),
    ]
    for response in calls:
        assert response.status_code in (200, 201, 422), response.text
        assert response.headers["Access-Control-Allow-Origin"] == origin, response.request.url
        assert response.headers["Cache-Control"] == "no-store"
    # the same key from another origin: refused; the page may read only that it was refused
    # (API Gateway's own answers carry no data, and a widget must tell refused from offline)
    for method, path in (("GET", "/config"), ("POST", "/conversations")):
        refused = _public(widget_site, method, path, "https://evil.example.net")
        assert refused.status_code == 403
        assert refused.headers.get("Access-Control-Allow-Origin") in (None, "*")
        assert set(refused.json()) == {"error"}


# ---------------------------------------------------------------------------- the template


def _resources() -> dict[str, Any]:
    return dict(load_template(PROJECT_ROOT / "template.yaml").raw["Resources"])


def _ref(value: Any) -> str:
    assert isinstance(value, dict) and set(value) == {"Ref"}, value
    return str(value["Ref"])


@pytest.fixture(scope="module")
def distribution() -> dict[str, Any]:
    found = [r for r in _resources().values() if r["Type"] == "AWS::CloudFront::Distribution"]
    assert len(found) == 1
    return dict(found[0]["Properties"]["DistributionConfig"])


def _behaviors(distribution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        **{b["PathPattern"]: b for b in distribution["CacheBehaviors"]},
        "*": distribution["DefaultCacheBehavior"],
    }


def _policy(resource: str, key: str) -> dict[str, Any]:
    return dict(_resources()[resource]["Properties"][key])


def test_the_distribution_is_https_only_and_reads_its_bucket_through_origin_access_control(
    distribution: dict[str, Any],
) -> None:
    origins = {o["Id"]: o for o in distribution["Origins"]}
    for pattern, behavior in _behaviors(distribution).items():
        api = origins[behavior["TargetOriginId"]].get("CustomOriginConfig") is not None
        # a redirected POST would lose its body: the API is https-only, files redirect
        assert behavior["ViewerProtocolPolicy"] == ("https-only" if api else "redirect-to-https")
        assert "ResponseHeadersPolicyId" in behavior, pattern
    s3 = next(o for o in origins.values() if "S3OriginConfig" in o)
    control = s3["OriginAccessControlId"]["Fn::GetAtt"][0]
    config = _policy(control, "OriginAccessControlConfig")
    assert config["SigningBehavior"] == "always" and config["OriginAccessControlOriginType"] == "s3"
    api = next(o for o in origins.values() if "CustomOriginConfig" in o)
    assert api["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    bucket = s3["DomainName"]["Fn::GetAtt"][0]
    blocked = _policy(bucket, "PublicAccessBlockConfiguration")
    assert all(blocked.values())
    policy = next(
        r["Properties"]["PolicyDocument"]
        for r in _resources().values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket}
    )
    readers = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in readers] == [{"Service": "cloudfront.amazonaws.com"}]
    assert "AWS:SourceArn" in readers[0]["Condition"]["StringEquals"]


def test_the_api_behind_the_distribution_is_cached_per_key_and_origin(
    distribution: dict[str, Any],
) -> None:
    behaviors = _behaviors(distribution)
    ttls = {}
    for pattern in ("/v1/public/agents/*/config", "/v1/public/*"):
        config = _policy(_ref(behaviors[pattern]["CachePolicyId"]), "CachePolicyConfig")
        key = config["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]
        # one site's answer (its key, its origin) is never served to another
        assert key["HeaderBehavior"] == "whitelist"
        assert set(key["Headers"]) == {"Authorization", "Origin"}
        ttls[pattern] = config["DefaultTTL"], config["MaxTTL"]
    assert ttls["/v1/public/agents/*/config"] == (900, 900)  # 15 minutes
    assert ttls["/v1/public/*"] == (0, 900)  # only what the API marks cacheable
    for pattern, cache_control in (("/widget.js", LOADER_CACHE), ("*", VERSIONED_CACHE)):
        policy = _ref(behaviors[pattern]["ResponseHeadersPolicyId"])
        headers = _policy(policy, "ResponseHeadersPolicyConfig")["CustomHeadersConfig"]
        items = {h["Header"]: h for h in headers["Items"]}
        assert items["Cache-Control"]["Value"] == cache_control
        assert items["Cache-Control"]["Override"] is True
        ttl = _policy(_ref(behaviors[pattern]["CachePolicyId"]), "CachePolicyConfig")["MaxTTL"]
        assert ttl == int(cache_control.split("max-age=")[1].split(",")[0])
