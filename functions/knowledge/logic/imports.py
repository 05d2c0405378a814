"""Bulk imports: many pages of a site as URL sources, from its sitemap or by a crawl.

The API creates the import job and queues it; the ingestion worker discovers the pages:
- ``sitemap``: the ``<loc>`` entries of a sitemap (a sitemap index is followed one level, at
  most MAX_SITEMAPS files); entries on another host are skipped, as the protocol requires.
- ``crawl``: breadth first from the start page, following ``<a href>`` links on the same
  host and under the start page's directory, at most ``max_depth`` links away.
Either way robots.txt is read first and respected (for our user agent, else ``*``), at most
``max_pages`` pages are taken, and every fetch goes through the SSRF-safe fetcher. Each page
becomes a URL document (a crawled page is stored as fetched, not fetched twice) queued for
ingestion like any other; the documents share coalesced index builds.

Progress: discovery writes ``pages_found``, ``documents`` and ``skipped`` after every
CREATE_TOGETHER pages; each document adds to ``indexed`` or ``failed`` when it first settles,
in the same write as its status. A job is ``done`` once every document has settled.
Idempotent: a page's document id derives from the import and the URL, so a re-run after a
crash creates nothing twice.
"""

from __future__ import annotations

import posixpath
import secrets
from collections import deque
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from agenthub.errors import NotFound
from agenthub.events import utc_now_iso
from agents.logic import agent_still_exists, get_agent
from knowledge.dal import repository
from knowledge.logic import sources
from knowledge.logic.fetch import FetchedDocument, FetchLimits, UrlRejected, fetch_url
from knowledge.models import Failure, ImportCreate, ImportJob, IngestionWorkItem

# Documents created per transaction (a document and its event each: 50 of DynamoDB's 100);
# the job's counters move after each group.
CREATE_TOGETHER = 25
MAX_SITEMAPS = 10
MAX_LINKS_PER_PAGE = 1000
SITEMAP_TYPES = ("application/xml", "text/xml")
ROBOTS_AGENT = FetchLimits().user_agent.split("/")[0]

Fetch = Callable[..., FetchedDocument]


def new_import_id() -> str:
    return "imp_" + secrets.token_hex(8)


def create_import(
    tenant_id: str, agent_id: str, body: ImportCreate, places: sources.Places
) -> ImportJob:
    get_agent(tenant_id, agent_id)  # another tenant's agent is a 404
    alive = [agent_still_exists(tenant_id, agent_id)]  # and a deleted one, at once
    now = utc_now_iso()
    job = ImportJob(
        id=new_import_id(),
        tenant_id=tenant_id,
        agent_id=agent_id,
        type=body.type,
        url=str(body.url),
        max_pages=body.max_pages,
        max_depth=body.max_depth if body.type == "crawl" else 0,
        tags=sorted(set(body.tags)),
        chunking=body.chunking.model_dump(),
        status="queued",
        created_at=now,
        updated_at=now,
    )
    repository.create_import(job, alive)
    item = IngestionWorkItem(
        action="import", tenant_id=tenant_id, agent_id=agent_id, import_id=job.id
    )
    repository.enqueue(places.queue_url, item)
    return job


def get_import(tenant_id: str, agent_id: str, import_id: str) -> ImportJob:
    """The job with its progress; ``done`` once discovery ended and every document settled."""
    get_agent(tenant_id, agent_id)
    job = repository.get_import(tenant_id, agent_id, import_id)
    counts = job.counts
    if job.status == "ingesting" and counts.indexed + counts.failed >= counts.documents:
        return job.model_copy(update={"status": "done"})
    return job


# ---------------------------------------------------------------- discovery (worker)
@dataclass
class _Tally:
    pages_found: int = 0
    documents: int = 0
    skipped: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "pages_found": self.pages_found,
            "documents": self.documents,
            "skipped": self.skipped,
        }


@dataclass
class Discovery:
    """One import's discovery: what it found, for the job's counters."""

    job: ImportJob
    fetch: Fetch
    robots: RobotFileParser = field(default_factory=RobotFileParser)
    tally: _Tally = field(default_factory=_Tally)

    def allowed(self, url: str) -> bool:
        return self.robots.can_fetch(ROBOTS_AGENT, url)

    def get(self, url: str, also_accept: Collection[str] = ()) -> FetchedDocument:
        return self.fetch(url, also_accept=also_accept)


def run_import(item: IngestionWorkItem, places: sources.Places, fetch: Fetch) -> None:
    """Discover the import's pages and queue a document for each (the worker's side)."""
    try:
        job = repository.get_import(item.tenant_id, item.agent_id, item.import_id or "")
    except NotFound:
        return
    if job.status not in ("queued", "discovering"):
        return  # a redelivered message for a discovery that ended
    repository.update_import(job, status="discovering")
    discovery = Discovery(job=job, fetch=fetch)
    _read_robots(discovery)
    pages = _sitemap_pages(discovery) if job.type == "sitemap" else _crawl_pages(discovery)
    group: list[sources.Page] = []
    try:
        for page in pages:
            discovery.tally.pages_found += 1
            group.append(page)
            if len(group) == CREATE_TOGETHER:
                _create(discovery, group, places)
                group = []
        _create(discovery, group, places)
    except NotFound:
        return  # the agent was deleted meanwhile: its cleanup removes the job and documents
    except UrlRejected as exc:  # the sitemap or the start page itself
        failure = Failure(reason=exc.reason, message=exc.message)
        repository.update_import(
            job, status="failed", failure=failure, counts=discovery.tally.counts()
        )
        return
    repository.update_import(job, status="ingesting", counts=discovery.tally.counts())


def _create(discovery: Discovery, group: list[sources.Page], places: sources.Places) -> None:
    """Documents for ``group``, then the job's counters (its progress while discovering)."""
    if not group:
        return
    sources.create_imported(discovery.job, group, places)
    discovery.tally.documents += len(group)
    repository.update_import(discovery.job, counts=discovery.tally.counts())


def _read_robots(discovery: Discovery) -> None:
    """robots.txt of the start URL's site: missing or unreadable allows everything; 401 or
    403 disallows everything (as urllib.robotparser reads them)."""
    parts = urlsplit(discovery.job.url)
    robots = discovery.robots
    try:
        fetched = discovery.get(f"{parts.scheme}://{parts.netloc}/robots.txt")
    except UrlRejected as exc:
        status = (exc.details or {}).get("status")
        # urllib.robotparser's own flags for these cases (as its read() sets them)
        setattr(robots, "disallow_all" if status in (401, 403) else "allow_all", True)
        return
    robots.parse(fetched.data.decode("utf-8", errors="replace").splitlines())


def _sitemap_pages(discovery: Discovery) -> Iterator[tuple[str, tuple[bytes, str] | None]]:
    """Pages a sitemap lists, fetched later by their documents."""
    from xml.etree import ElementTree

    job, tally = discovery.job, discovery.tally
    host = urlsplit(job.url).netloc
    pending, read, seen = deque([job.url]), 0, set()
    while pending and read < MAX_SITEMAPS:
        fetched = discovery.get(pending.popleft(), also_accept=SITEMAP_TYPES)
        read += 1
        try:
            root = ElementTree.fromstring(fetched.data)
        except ElementTree.ParseError as exc:
            raise UrlRejected("content_type", "The sitemap is not valid XML.") from exc
        locations = [
            (element.text or "").strip()
            for element in root.iter()
            if element.tag.rsplit("}", 1)[-1] == "loc"
        ]
        if root.tag.rsplit("}", 1)[-1] == "sitemapindex":
            pending.extend(loc for loc in locations if urlsplit(loc).netloc == host)
            continue
        for loc in locations:
            url = urldefrag(loc)[0]
            if not url or url in seen:
                continue
            seen.add(url)
            over = tally.pages_found >= job.max_pages
            if over or urlsplit(url).netloc != host or not discovery.allowed(url):
                tally.skipped += 1
            else:
                yield url, None


def _crawl_pages(discovery: Discovery) -> Iterator[tuple[str, tuple[bytes, str] | None]]:
    """Pages reached from the start page, breadth first, within scope and limits."""
    job, tally = discovery.job, discovery.tally
    start = urldefrag(job.url)[0]
    scope = _scope(start)
    queue: deque[tuple[str, int]] = deque([(start, 0)])
    seen = {start}
    while queue:
        url, depth = queue.popleft()
        if tally.pages_found >= job.max_pages:
            tally.skipped += 1 + len(queue)
            return
        if not discovery.allowed(url):
            tally.skipped += 1
            continue
        try:
            fetched = discovery.get(url)
        except UrlRejected:
            if url == start:
                raise
            tally.skipped += 1
            continue
        yield url, (fetched.data, fetched.content_type or "text/html")
        if depth >= job.max_depth or "html" not in fetched.content_type.lower():
            continue
        for link in _links(fetched):
            if link not in seen and _in_scope(link, scope):
                seen.add(link)
                queue.append((link, depth + 1))


def _scope(start: str) -> tuple[str, str, str]:
    """(scheme, host, path prefix): the start page's directory."""
    parts = urlsplit(start)
    path = parts.path or "/"
    directory = path if path.endswith("/") else posixpath.dirname(path) + "/"
    return parts.scheme, parts.netloc, directory.replace("//", "/")


def _in_scope(url: str, scope: tuple[str, str, str]) -> bool:
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc) == scope[:2] and (parts.path or "/").startswith(scope[2])


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a" and len(self.hrefs) < MAX_LINKS_PER_PAGE:
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)


def _links(fetched: FetchedDocument) -> list[str]:
    parser = _Links()
    parser.feed(fetched.data.decode("utf-8", errors="replace"))
    out = []
    for href in parser.hrefs:
        url = urldefrag(urljoin(fetched.final_url, href.strip()))[0]
        if urlsplit(url).scheme in ("http", "https"):
            out.append(url)
    return out


def fetcher(allow_private: bool) -> Fetch:
    """The SSRF-safe fetcher as discovery uses it."""

    def fetch(url: str, also_accept: Collection[str] = ()) -> FetchedDocument:
        return fetch_url(url, allow_private=allow_private, also_accept=also_accept)

    return fetch
