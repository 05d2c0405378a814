"""The knowledge pipeline end to end, through HTTP only, against the real template in the local
runtime: sources of every kind (a file uploaded to its presigned S3 URL, inline text, Q&A, a
URL served from 127.0.0.1), the asynchronous ingestion (S3 notification → SQS → worker → index),
search with citations, bad files that fail with a reason, retry, and delete.

The sources are added once for the module (the ingestion queue batches for up to five
seconds, so documents that arrive together are processed together); each test then checks one
behaviour of that library, or works on documents of its own.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from infra.local.runtime import LocalRuntime
from tests.e2e.api import Api, Tenant, assert_error
from tests.e2e.support import eventually

pytestmark = pytest.mark.slow

TERMINAL = ("indexed", "failed")
ORDER = ("awaiting_upload", "queued", "processing", "indexed", "failed")
WITHIN = 90  # seconds: the safety net for a document to settle (cold start + batching window)

RETURNS_MD = b"""# Returns policy

Everything about sending shoes back to us.

## Refund window

Customers may return unworn shoes within 45 days of delivery for a full refund. The refund
goes back to the original payment method within five working days of the parcel arriving.

## Exchanges

Exchanges for another size are free; the new pair ships as soon as the old one is scanned.
"""
SHIPPING_TEXT = (
    "# Shipping\n\nOrders ship from the Rotterdam warehouse within two business days. "
    "Parcels are handed to the carrier every afternoon at four."
)
QA_PAIRS = [
    {
        "question": "Do you deliver to Iceland?",
        "answer": "Yes, deliveries to Iceland take about nine days.",
    },
    {
        "question": "Can I pay by invoice?",
        "answer": "Businesses can pay by invoice within 30 days.",
    },
]
STORE_HTML = b"""<!doctype html><html><head><title>Store hours</title></head><body>
<h1>Store hours</h1>
<h2>Amsterdam flagship</h2>
<p>The flagship store on the Keizersgracht opens at ten in the morning, Monday to Saturday.</p>
</body></html>"""
LATER_TEXT = b"Gift cards never expire and can be used online and in every store."
PNG_AS_TXT = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00"
CORRUPT_PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\nthis is not a pdf\n"
FORGETTABLE = "# Warehouse cats\n\nThe Rotterdam warehouse keeps two cats, Pip and Marzipan."


GUIDE = {
    "/guide/": ("Guide", "Start here.", ["intro.html", "setup.html", "private/notes.html"]),
    "/guide/intro.html": ("Introduction", "The lighthouse keeper polishes the lens daily.", []),
    "/guide/setup.html": ("Setup", "Install the fog horn before winter.", ["deep/more.html"]),
    "/guide/deep/more.html": ("More", "Too deep: three links from the start.", []),
    "/guide/private/notes.html": ("Notes", "Robots may not read this.", []),
}
ROBOTS = b"User-agent: *\nDisallow: /guide/private/\n"
SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{site}/guide/intro.html</loc></url>
<url><loc>{site}/guide/setup.html</loc></url>
<url><loc>{site}/guide/private/notes.html</loc></url>
<url><loc>https://elsewhere.example.com/page.html</loc></url>
</urlset>"""


def _guide_page(path: str) -> bytes:
    title, text, links = GUIDE[path]
    anchors = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
        f"<p>{text}</p><ul>{anchors}</ul></body></html>"
    ).encode()


class _Site(http.server.BaseHTTPRequestHandler):
    """The pages the URL imports fetch. ``/flaky`` fails until the test heals it."""

    healed = threading.Event()

    def do_GET(self) -> None:
        if self.path in GUIDE:
            self._send(200, "text/html; charset=utf-8", _guide_page(self.path))
        elif self.path == "/robots.txt":
            self._send(200, "text/plain", ROBOTS)
        elif self.path == "/sitemap.xml":
            host = f"http://{self.headers['Host']}"
            self._send(200, "application/xml", SITEMAP.format(site=host).encode())
        elif self.path == "/store-hours.html":
            self._send(200, "text/html; charset=utf-8", STORE_HTML)
        elif self.path == "/flaky.txt" and self.healed.is_set():
            self._send(200, "text/plain; charset=utf-8", LATER_TEXT)
        elif self.path == "/flaky.txt":
            self._send(503, "text/plain", b"try again later")
        else:
            self._send(404, "text/plain", b"no such page")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Library:
    """One agent's sources, added together; ``docs`` by a name the tests use."""

    api: Api
    tenant: Tenant
    agent_id: str
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: dict[str, list[str]] = field(default_factory=dict)  # statuses observed, in order

    @property
    def base(self) -> str:
        return f"/v1/agents/{self.agent_id}"

    def add(self, name: str, source: dict[str, Any]) -> dict[str, Any]:
        response = self.api.call(
            "POST", f"{self.base}/documents", self.tenant.owner_key, json={"source": source}
        )
        assert response.status_code == 202, response.text
        created = response.json()
        self.docs[name] = created["document"]
        self.seen[name] = [created["document"]["status"]]
        return dict(created)

    def upload(self, name: str, file_name: str, data: bytes, **extra: Any) -> None:
        created = self.add(
            name, {"type": "upload", "file_name": file_name, "size": len(data), **extra}
        )
        ticket = created["upload"]
        # A plain HTTP client (a browser, curl) PUTs the bytes straight to S3.
        put = requests.request(
            ticket["method"], ticket["url"], data=data, headers=ticket["headers"], timeout=30
        )
        assert put.status_code == 200, put.text

    def document(self, name: str) -> dict[str, Any]:
        doc = self.api.ok("GET", f"{self.base}/documents/{self.docs[name]['id']}", self.key)
        if doc["status"] != self.seen[name][-1]:
            self.seen[name].append(doc["status"])
        return dict(doc)

    def settled(self, name: str) -> dict[str, Any] | None:
        doc = self.document(name)
        return doc if doc["status"] in TERMINAL else None

    def search(self, query: str, **extra: Any) -> dict[str, Any]:
        body = {"query": query, **extra}
        return dict(self.api.ok("POST", f"{self.base}/search", self.key, json=body))

    @property
    def key(self) -> str:
        return self.tenant.owner_key


@pytest.fixture(scope="module")
def library(runtime: LocalRuntime, site: str) -> Library:
    api = Api(runtime)
    tenant = api.new_tenant("Shoe shop")
    agent = api.new_agent(tenant.owner_key, name="Shop assistant")
    lib = Library(api, tenant, agent["id"])
    lib.upload("returns", "returns.md", RETURNS_MD, tags=["policy"])
    lib.add("shipping", {"type": "text", "text": SHIPPING_TEXT, "tags": ["logistics"]})
    lib.add("faq", {"type": "qa", "pairs": QA_PAIRS, "title": "Frequently asked"})
    lib.add("store", {"type": "url", "url": f"{site}/store-hours.html"})
    lib.add("flaky", {"type": "url", "url": f"{site}/flaky.txt"})
    lib.add("metadata", {"type": "url", "url": "http://169.254.169.254/latest/meta-data/"})
    lib.upload("disguised", "photo.txt", PNG_AS_TXT)
    lib.upload("corrupt", "manual.pdf", CORRUPT_PDF)
    lib.add("forgettable", {"type": "text", "text": FORGETTABLE})
    for name in lib.docs:
        eventually(lambda name=name: lib.settled(name), within=WITHIN, every=0.5)
    return lib


def _hit_for(result: dict[str, Any], document_id: str) -> dict[str, Any] | None:
    return next((h for h in result["results"] if h["document_id"] == document_id), None)


def test_an_uploaded_file_goes_to_indexed_and_is_found_with_a_citation(library: Library) -> None:
    # Given a Markdown file uploaded through its presigned URL (in the module's library)
    doc = library.document("returns")
    # Then its status only ever moved forward, to indexed, with its progress complete
    seen = library.seen["returns"]
    assert seen[0] == "awaiting_upload" and seen[-1] == "indexed", seen
    assert [ORDER.index(s) for s in seen] == sorted(ORDER.index(s) for s in seen)
    assert doc["progress"]["chunks_total"] > 0
    assert doc["progress"]["chunks_done"] == doc["progress"]["chunks_total"]
    assert doc["failure"] is None
    # When a visitor's question is searched
    result = library.search("how long do I have to return unworn shoes for a refund?")
    # Then the best chunk is the refund paragraph, cited by title, file name and heading
    best = result["results"][0]
    assert best["document_id"] == doc["id"]
    assert "45 days" in best["text"]
    assert best["title"] == "Returns policy"
    assert best["file_name"] == "returns.md"
    assert "Refund window" in best["location"]["heading_path"]
    assert 0 <= best["location"]["char_start"] < best["location"]["char_end"]
    assert best["score"] > 0
    assert result["index_version"] >= 1


def test_inline_text_and_qa_pairs_are_searchable(library: Library) -> None:
    shipping, faq = library.document("shipping"), library.document("faq")
    assert shipping["status"] == "indexed" and faq["status"] == "indexed"
    # When questions only these sources answer are searched
    warehouse = library.search("which warehouse do orders ship from?")
    iceland = library.search("delivery to Iceland")
    # Then each source's chunk comes first
    assert warehouse["results"][0]["document_id"] == shipping["id"]
    assert "Rotterdam" in warehouse["results"][0]["text"]
    assert iceland["results"][0]["document_id"] == faq["id"]
    assert "nine days" in iceland["results"][0]["text"]
    assert iceland["results"][0]["title"] == "Frequently asked"


def test_search_filters_by_tag(library: Library) -> None:
    # When the same question is asked only of the documents tagged "logistics"
    result = library.search("return shoes refund", filters={"tags": ["logistics"]})
    # Then nothing outside that tag comes back
    returns_id = library.docs["returns"]["id"]
    assert all(hit["document_id"] != returns_id for hit in result["results"])
    assert all("logistics" in hit["tags"] for hit in result["results"])


def test_a_url_import_from_a_local_server_is_indexed_with_its_source_url(
    library: Library, site: str
) -> None:
    doc = library.document("store")
    assert doc["status"] == "indexed", doc
    # When its content is searched
    result = library.search("when does the Keizersgracht store open?")
    # Then the hit cites the page it came from
    best = result["results"][0]
    assert best["document_id"] == doc["id"]
    assert best["source_url"] == f"{site}/store-hours.html"
    assert best["link"] == best["source_url"]
    assert "ten in the morning" in best["text"]


def test_bad_sources_fail_with_a_reason_while_the_others_are_indexed(library: Library) -> None:
    # Then the binary named .txt, the broken PDF and the metadata URL each failed with a reason
    # a user can act on
    disguised = library.document("disguised")
    corrupt = library.document("corrupt")
    metadata = library.document("metadata")
    for doc in (disguised, corrupt, metadata):
        assert doc["status"] == "failed", doc
        assert doc["failure"]["message"]
    assert disguised["failure"]["reason"] == "content_mismatch"
    assert corrupt["failure"]["reason"] == "corrupt"
    assert metadata["failure"]["reason"] == "private_address"  # SSRF guard, even locally
    # and nothing of theirs is in the index, while the good documents are
    index = library.api.ok("GET", f"{library.base}/index", library.key)
    failed_ids = {disguised["id"], corrupt["id"], metadata["id"]}
    for query in ("PNG IHDR", "Catalog Pages pdf", "meta-data"):
        assert not failed_ids & {h["document_id"] for h in library.search(query)["results"]}
    good = [library.document(name) for name in ("returns", "shipping", "faq", "store")]
    assert [doc["status"] for doc in good] == ["indexed"] * len(good)
    assert index["documents"] >= len(good)


def test_a_failed_document_can_be_retried(library: Library) -> None:
    # Given a URL import that failed because the server was down
    flaky = library.document("flaky")
    assert flaky["status"] == "failed", flaky
    assert flaky["failure"]["reason"] == "http_status"
    # When the server is back and the document is retried
    _Site.healed.set()
    response = library.api.call(
        "POST", f"{library.base}/documents/{flaky['id']}/retry", library.key
    )
    assert response.status_code == 202, response.text
    assert response.json()["document"]["status"] == "queued"
    # Then it is indexed and searchable
    library.seen["flaky"] = ["queued"]
    doc = eventually(lambda: library.settled("flaky"), within=WITHIN, every=0.5)
    assert doc["status"] == "indexed", doc
    assert doc["failure"] is None
    assert doc["attempts"] >= 2
    # (search notices a new index version within its pointer cache's TTL: poll)
    found = eventually(
        lambda: (
            (result := library.search("do gift cards expire?"))
            and _hit_for(result, flaky["id"])
            and result
        ),
        within=WITHIN,
        every=0.5,
    )
    assert found["results"][0]["document_id"] == flaky["id"]
    # and a document that is not failed or indexed cannot be retried
    pending = library.add("pending", {"type": "upload", "file_name": "later.txt", "size": 10})
    refused = library.api.call(
        "POST", f"{library.base}/documents/{pending['document']['id']}/retry", library.key
    )
    assert_error(refused, 409)


def test_deleting_a_document_takes_its_chunks_out_of_search(library: Library) -> None:
    doc = library.document("forgettable")
    assert doc["status"] == "indexed", doc
    before = library.search("warehouse cats Pip Marzipan")
    assert _hit_for(before, doc["id"]) is not None
    version = library.api.ok("GET", f"{library.base}/index", library.key)["version"]
    # When the document is deleted
    response = library.api.call("DELETE", f"{library.base}/documents/{doc['id']}", library.key)
    assert response.status_code == 202, response.text
    # Then it is gone at once, and once a new index version is live its chunks are not found
    assert_error(library.api.call("GET", f"{library.base}/documents/{doc['id']}", library.key), 404)
    after = eventually(
        lambda: (
            (found := library.search("warehouse cats Pip Marzipan"))["index_version"] > version
            and found
        ),
        within=WITHIN,
        every=0.5,
    )
    assert _hit_for(after, doc["id"]) is None
    # and the other documents are still there
    assert library.search("which warehouse do orders ship from?")["results"]


def test_another_tenant_cannot_see_or_search_the_library(library: Library) -> None:
    other = library.api.new_tenant("Snoop")
    doc_id = library.docs["returns"]["id"]
    for method, path, body in (
        ("GET", f"{library.base}/documents", None),
        ("GET", f"{library.base}/documents/{doc_id}", None),
        ("POST", f"{library.base}/search", {"query": "refund"}),
        ("DELETE", f"{library.base}/documents/{doc_id}", None),
    ):
        assert_error(library.api.call(method, path, other.owner_key, json=body), 404)
    assert library.document("returns")["status"] == "indexed"


def test_an_upload_source_states_its_limits(library: Library) -> None:
    # An unsupported extension and an oversized file are refused when the source is created
    bad_type = library.api.call(
        "POST",
        f"{library.base}/documents",
        library.key,
        json={"source": {"type": "upload", "file_name": "song.mp3", "size": 10}},
    )
    too_big = library.api.call(
        "POST",
        f"{library.base}/documents",
        library.key,
        json={"source": {"type": "upload", "file_name": "big.pdf", "size": 11 * 1024 * 1024}},
    )
    assert_error(bad_type, 422)
    assert_error(too_big, 422)


def _imported(library: Library, body: dict[str, Any]) -> dict[str, Any]:
    """Start an import and follow its progress until it is done."""
    response = library.api.call("POST", f"{library.base}/imports", library.key, json=body)
    assert response.status_code == 202, response.text
    job = response.json()["import"]
    assert job["status"] == "queued"
    path = f"{library.base}/imports/{job['id']}"
    seen: list[str] = []

    def done() -> dict[str, Any] | None:
        got = dict(library.api.ok("GET", path, library.key))
        if not seen or seen[-1] != got["status"]:
            seen.append(got["status"])
        return got if got["status"] in ("done", "failed") else None

    finished = eventually(done, within=WITHIN, every=0.5)
    assert seen[-1] == "done", (seen, finished)
    return finished


def test_a_site_crawl_imports_the_pages_in_scope_that_robots_allow(
    library: Library, site: str
) -> None:
    # When the guide is crawled one link deep
    job = _imported(library, {"type": "crawl", "url": f"{site}/guide/", "max_depth": 1})
    # Then the start page and the pages it links are indexed; robots.txt kept the private
    # notes out, and the page two links away was not reached
    counts = job["counts"]
    assert counts == {
        "pages_found": 3,
        "documents": 3,
        "skipped": 1,
        "indexed": 3,
        "failed": 0,
    }, job
    best = library.search("who polishes the lens?")["results"][0]
    assert best["source_url"] == f"{site}/guide/intro.html"
    private = library.search("robots may not read this")["results"]
    assert all("/private/" not in (hit["source_url"] or "") for hit in private)


def test_a_sitemap_import_takes_the_listed_pages_of_its_own_site(
    library: Library, site: str
) -> None:
    # When the sitemap is imported
    job = _imported(library, {"type": "sitemap", "url": f"{site}/sitemap.xml", "tags": ["guide"]})
    # Then its two allowed pages are indexed; the disallowed and the off-site ones skipped
    assert job["counts"]["documents"] == 2 and job["counts"]["skipped"] == 2, job
    assert job["counts"]["indexed"] == 2, job
    hits = library.search("fog horn", filters={"tags": ["guide"]})["results"]
    assert hits and hits[0]["source_url"] == f"{site}/guide/setup.html"


def test_an_uploaded_file_is_cited_with_a_signed_link_that_opens_it(library: Library) -> None:
    doc = library.document("returns")
    assert doc["status"] == "indexed", doc
    # When its content is searched
    best = library.search("how long do I have to return unworn shoes?")["results"][0]
    assert best["document_id"] == doc["id"]
    # Then the hit's link opens the uploaded file itself, without an API key
    opened = requests.get(best["link"], timeout=30)
    assert opened.status_code == 200, opened.text
    assert opened.content == RETURNS_MD
    assert "returns.md" in opened.headers["Content-Disposition"]
