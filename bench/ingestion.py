"""A site import at scale through the local runtime: 500 HTML pages of the PostgreSQL manual
(the Debian package postgresql-doc-15, fetched into .local/corpus by the retrieval bench's
corpus module), served from 127.0.0.1 with a sitemap and robots.txt, imported with one
``POST /v1/agents/{agentId}/imports``. While it runs, a second client keeps calling the API
as a tenant would (list documents, read the index, search, read the import) and every
answer that is not a 2xx is counted. Printed only, never asserted.
"""

from __future__ import annotations

import http.server
import statistics
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

PAGES = 500
WITHIN_SECONDS = 900
QUERIES = ("create index concurrently", "vacuum full", "foreign key", "listen notify")


def _site(root: Path, pages: list[str]) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A static server of ``root`` plus /sitemap.xml (``pages``) and an allow-all robots.txt."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                return self._send("text/plain", b"User-agent: *\nAllow: /\n")
            if self.path == "/sitemap.xml":
                base = f"http://{self.headers['Host']}"
                locs = "".join(f"<url><loc>{base}/{page}</loc></url>" for page in pages)
                xml = (
                    '<?xml version="1.0"?><urlset '
                    f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
                )
                return self._send("application/xml", xml.encode())
            return super().do_GET()

        def _send(self, content_type: str, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(Handler, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class _Caller(threading.Thread):
    """A tenant's client calling the API while the import runs: statuses and latencies."""

    def __init__(self, api: str, owner: dict[str, str], agent_id: str) -> None:
        super().__init__(daemon=True)
        import requests

        self.session = requests.Session()
        self.api, self.owner, self.agent_id = api, owner, agent_id
        self.import_path: str | None = None
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        base = f"{self.api}/v1/agents/{self.agent_id}"
        n = 0
        while not self.stop.is_set():
            n += 1
            kind = n % 4
            t0 = time.perf_counter()
            try:
                if kind == 0:
                    response = self.session.get(f"{base}/documents?limit=50", headers=self.owner)
                elif kind == 1:
                    response = self.session.get(f"{base}/index", headers=self.owner)
                elif kind == 2:
                    query = {"query": QUERIES[n % len(QUERIES)], "k": 5}
                    response = self.session.post(f"{base}/search", json=query, headers=self.owner)
                else:
                    response = self.session.get(f"{base}", headers=self.owner)
                status = str(response.status_code)
            except Exception as exc:  # a timeout or a dropped connection is an error too
                status = type(exc).__name__
            self.latencies.append((time.perf_counter() - t0) * 1000)
            self.statuses[status] += 1
            self.stop.wait(0.05)

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))


def run(print_fn=print, pages: int = PAGES) -> None:
    import requests

    from bench.retrieval.corpus import CORPORA
    from infra.local.runtime import PROJECT_ROOT, LocalRuntime

    corpus = CORPORA["postgresql"]
    names = [corpus.relative(path) for path in corpus.files()][:pages]
    server, site = _site(corpus.directory, names)
    runtime = LocalRuntime(
        api_port=0,
        seed=False,
        log_dir=PROJECT_ROOT / ".local" / "logs" / "bench-ingestion",
        # the pages are served from 127.0.0.1, which the template (rightly) forbids
        env_overrides={"IngestionFunction": {"ALLOW_PRIVATE_URLS": "true"}},
    )
    runtime.start()
    caller: _Caller | None = None
    try:
        api = runtime.api_url
        session = requests.Session()
        admin = {"Authorization": f"Bearer {runtime.admin_token}"}
        tenant = session.post(f"{api}/v1/tenants", json={"name": "Bench"}, headers=admin).json()
        owner = {"Authorization": f"Bearer {tenant['key']['secret']}"}
        agent = session.post(f"{api}/v1/agents", json={"name": "Manual"}, headers=owner).json()
        base = f"{api}/v1/agents/{agent['id']}"
        caller = _Caller(api, owner, agent["id"])
        caller.start()
        body = {"type": "sitemap", "url": f"{site}/sitemap.xml", "max_pages": len(names)}
        started = time.perf_counter()
        job = session.post(f"{base}/imports", json=body, headers=owner).json()["import"]
        path = f"{base}/imports/{job['id']}"
        while True:
            read = session.get(path, headers=owner)
            job = read.json() if read.status_code == 200 else job
            if job["status"] in ("done", "failed"):
                break
            if time.perf_counter() - started > WITHIN_SECONDS:
                raise SystemExit(f"the import did not finish in {WITHIN_SECONDS} s: {job}")
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        # Search sees the last version within its pointer cache's lifetime.
        index = session.get(f"{base}/index", headers=owner).json()
        caller.stop.set()
        caller.join()
        counts = job["counts"]
        lat = sorted(caller.latencies)
        print_fn(
            f"\n== Site import: {len(names)} HTML pages ({corpus.package}) by sitemap, local "
            "runtime =="
        )
        print_fn(
            f"{counts['indexed']} indexed, {counts['failed']} failed, {counts['skipped']} skipped"
            f" in {elapsed:.1f} s ({counts['indexed'] / elapsed:.1f} documents/s); "
            f"status {job['status']}"
        )
        print_fn(
            f"index: version {index['version']} (builds), {index['documents']} documents, "
            f"{index['chunks']} chunks"
        )
        print_fn(
            f"API calls during the import: {len(lat)}, errors {caller.errors}, statuses "
            f"{dict(caller.statuses)}, p50 {statistics.median(lat):.0f} ms, "
            f"p99 {lat[int(len(lat) * 0.99) - 1]:.0f} ms, max {lat[-1]:.0f} ms"
        )
    finally:
        if caller is not None:
            caller.stop.set()
        runtime.stop()
        server.shutdown()
        server.server_close()
