"""Evaluation corpora: Debian documentation packages, fetched on first use into
`.local/corpus/<package>/` (gitignored, never committed).

`apt-get download` fetches the .deb through the machine's configured Debian mirror; the package
is unpacked here in Python (ar + tar, what `dpkg -x` does), so `dpkg` itself is not needed.

Each corpus names its package, the folder of documents inside it, the format the documents are
ingested as, and a *domain*: questions of one domain serve as off-topic questions for corpora
of the other domains. `tuning` says whether a corpus may be looked at while tuning the
pipeline; the held-out ones are only measured (see bench/retrieval/evaluate.py).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".local" / "corpus"


@dataclass(frozen=True)
class Corpus:
    name: str
    package: str
    folder: str  # inside the package, without the leading "./"
    pattern: str  # glob of the documents under the folder
    kind: str  # "html" or "rst" (reStructuredText sent as inline text, as a site owner would)
    domain: str
    tuning: bool
    label: str

    @property
    def directory(self) -> Path:
        return CACHE / self.package / self.folder

    def files(self) -> list[Path]:
        ensure(self)
        return sorted(p for p in self.directory.glob(self.pattern) if p.is_file())

    def relative(self, path: Path) -> str:
        return path.relative_to(self.directory).as_posix()


CORPORA: dict[str, Corpus] = {
    c.name: c
    for c in (
        Corpus(
            "postgresql",
            "postgresql-doc-15",
            "usr/share/doc/postgresql-doc-15/html",
            "*.html",
            "html",
            "databases",
            True,
            "PostgreSQL 15 manual (HTML)",
        ),
        Corpus(
            "git",
            "git-doc",
            "usr/share/doc/git-doc",
            "**/*.html",
            "html",
            "version control",
            True,
            "Git manual pages and guides (HTML, asciidoc)",
        ),
        Corpus(
            "sqlite",
            "sqlite3-doc",
            "usr/share/doc/sqlite3",
            "**/*.html",
            "html",
            "databases",
            True,
            "SQLite documentation (HTML)",
        ),
        Corpus(
            "debian-handbook",
            "debian-handbook",
            "usr/share/doc/debian-handbook/html/en-US",
            "*.html",
            "html",
            "operating system",
            False,
            "The Debian Administrator's Handbook (HTML, DocBook)",
        ),
        Corpus(
            "debian-reference",
            "debian-reference-en",
            "usr/share/debian-reference",
            "*.en.html",
            "html",
            "operating system",
            False,
            "Debian Reference (17 long HTML chapters)",
        ),
        Corpus(
            "python",
            "python3.11-doc",
            "usr/share/doc/python3.11/html/_sources",
            "**/*.rst.txt",
            "rst",
            "programming language",
            False,
            "Python 3.11 docs as reStructuredText sources (inline text)",
        ),
    )
}
PYTHON_HTML = Corpus(
    "python-html",
    "python3.11-doc",
    "usr/share/doc/python3.11/html",
    "**/*.html",
    "html",
    "programming language",
    False,
    "Python 3.11 docs (HTML)",
)

# Documentation of domains none of CORPORA is about, never indexed: only a source of
# off-topic questions, the "real questions taken from unrelated documentation" (a
# shop's visitors do not ask about databases either).
UNRELATED: dict[str, Corpus] = {
    c.name: c
    for c in (
        Corpus(
            "gnucash",
            "gnucash-docs",
            "usr/share/doc/gnucash-docs/gnucash-guide-en",
            "*.html",
            "html",
            "personal finance",
            False,
            "GnuCash tutorial and concepts guide (HTML)",
        ),
        Corpus(
            "gimp",
            "gimp-help-en",
            "usr/share/gimp/2.0/help/en",
            "*.html",
            "html",
            "image editing",
            False,
            "GIMP user manual (HTML)",
        ),
        Corpus(
            "kicad",
            "kicad-doc-en",
            "usr/share/doc/kicad/help/en",
            "*.html",
            "html",
            "electronics design",
            False,
            "KiCad manuals (HTML)",
        ),
    )
}


def _ar_members(data: bytes) -> dict[str, bytes]:
    """The members of a Unix `ar` archive (a .deb is one)."""
    if not data.startswith(b"!<arch>\n"):
        raise ValueError("not an ar archive")
    members: dict[str, bytes] = {}
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        members[name] = data[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size % 2)
    return members


def _download_deb(package: str, workdir: Path) -> Path:
    cmd = ["apt-get", "download", package]
    try:
        result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise RuntimeError(
            f"the retrieval bench needs Debian's {package}: run it on a Debian/Ubuntu machine"
            f" (apt-get), or unpack the package into {CACHE / package}"
        ) from error
    if result.returncode != 0:  # an empty package list on a fresh machine: update once, retry
        subprocess.run(["apt-get", "update"], capture_output=True, check=False)
        subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=True)
    debs = sorted(workdir.glob(f"{package}_*.deb"))
    if not debs:
        raise RuntimeError(f"apt-get download {package} produced no .deb")
    return debs[-1]


def ensure(corpus: Corpus) -> Path:
    """The corpus folder, downloading and unpacking its package when missing. Symbolic links
    inside the package (shared stylesheets, translations) are skipped: only files count."""
    marker = CACHE / corpus.package / ".unpacked"
    if marker.exists():
        return corpus.directory
    target = CACHE / corpus.package
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        deb = _download_deb(corpus.package, Path(tmp))
        members = _ar_members(deb.read_bytes())
        data_name = next(n for n in members if n.startswith("data.tar"))
        with tarfile.open(fileobj=io.BytesIO(members[data_name])) as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix("./")
                if not member.isfile() or ".." in Path(name).parts:
                    continue
                extracted = tar.extractfile(member)
                if extracted is not None:
                    out = target / name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(extracted.read())
    marker.write_text(corpus.package)
    return corpus.directory


def html_files() -> list[Path]:
    """PostgreSQL's pages (the hand-written question set's corpus)."""
    return CORPORA["postgresql"].files()


class _VisibleText(HTMLParser):
    """Everything a browser shows: text outside <script>, <style> and <head>."""

    _HIDDEN = frozenset({"script", "style", "head", "title"})
    _BREAKS = frozenset(
        {"p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dt"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: bytes) -> str:
    """The page's visible text with whitespace collapsed (for the baseline and the judge)."""
    parser = _VisibleText()
    parser.feed(html.decode("utf-8", errors="replace"))
    parser.close()
    return " ".join("".join(parser.parts).split())
