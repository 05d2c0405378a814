"""The evaluation corpus: PostgreSQL 15's HTML documentation from the Debian package
`postgresql-doc-15`, fetched on first use into `.local/corpus/` (gitignored, never committed).

`apt-get download` fetches the .deb through the machine's configured Debian mirror; the
package is unpacked here in Python (ar + tar), so `dpkg` is not needed."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".local" / "corpus"
PACKAGE = "postgresql-doc-15"
HTML_DIR = CACHE / PACKAGE / "html"


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


def _download_deb(workdir: Path) -> Path:
    cmd = ["apt-get", "download", PACKAGE]
    try:
        result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    except FileNotFoundError as error:
        raise RuntimeError(
            f"the retrieval bench needs Debian's {PACKAGE}: run it on a Debian/Ubuntu machine"
            f" (apt-get), or unpack the package's html/ folder into {HTML_DIR}"
        ) from error
    if result.returncode != 0:  # an empty package list on a fresh machine: update once, retry
        subprocess.run(["apt-get", "update"], capture_output=True, check=False)
        subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=True)
    debs = sorted(workdir.glob(f"{PACKAGE}_*.deb"))
    if not debs:
        raise RuntimeError(f"apt-get download {PACKAGE} produced no .deb")
    return debs[-1]


def ensure_corpus() -> Path:
    """The directory of HTML files, downloading and unpacking the package when missing."""
    if HTML_DIR.is_dir() and any(HTML_DIR.glob("*.html")):
        return HTML_DIR
    HTML_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        deb = _download_deb(Path(tmp))
        members = _ar_members(deb.read_bytes())
        data_name = next(n for n in members if n.startswith("data.tar"))
        prefix = f"./usr/share/doc/{PACKAGE}/html/"
        with tarfile.open(fileobj=io.BytesIO(members[data_name])) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.startswith(prefix):
                    name = Path(member.name).name
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        (HTML_DIR / name).write_bytes(extracted.read())
    return HTML_DIR


def html_files() -> list[Path]:
    return sorted(ensure_corpus().glob("*.html"))


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
