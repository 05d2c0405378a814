"""The widget's static assets: sources in ``functions/widget/assets/``, built into versioned files.

- ``widget.js``: the loader, the one URL customers embed. Its name never changes, so caches keep
  it a short time (24 h, see template.yaml's WidgetLoaderHeadersPolicy).
- ``ui.<hash>.js`` and ``ui.<hash>.css``: the chat UI, named by a hash of their content and
  cached 30 days as immutable. The build writes those names into the loader, so a loader can
  only ever load the UI it was built with: a cached old loader keeps working with its old UI
  (deployments never delete old hashed files), and a new loader never meets an old UI. Their
  sources are the parts in ``assets/ui/``, joined in name order (``ui/*.js`` inside one
  function scope, ``ui/*.css`` one after another): a feature such as a booking or payment
  step is a part of its own (see ``ui/40-steps.js``).
- ``analytics.html`` with ``analytics.<hash>.js`` / ``.css``: the tenants' analytics report
  (docs/billing-analytics.md). The page keeps its name and is revalidated on every visit
  (``no-cache``), its files are content-hashed like the UI's.

Standard library only: the build, the local runtime (``infra/local/widget.py``) and the bench
import this module as ``functions.widget.logic.assets`` without the Lambda layer.

    python -m functions.widget.logic.assets build --out .aws-sam/widget
    python -m functions.widget.logic.assets publish --stack-name agenthub-dev
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[1] / "assets"
UI_PARTS = "ui"
LOADER = "widget.js"
# Placeholders in loader.js the build replaces; a loader still holding one must never ship.
_UI_JS = "__AGENTHUB_UI_JS__"
_UI_CSS = "__AGENTHUB_UI_CSS__"
_VERSION = "__AGENTHUB_VERSION__"
_ANALYTICS_JS = "__AGENTHUB_ANALYTICS_JS__"
_ANALYTICS_CSS = "__AGENTHUB_ANALYTICS_CSS__"
ANALYTICS_PAGE = "analytics.html"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
# What S3 objects carry; CloudFront's response headers policies send the same to browsers.
LOADER_CACHE_CONTROL = "public, max-age=86400"
VERSIONED_CACHE_CONTROL = "public, max-age=2592000, immutable"
PAGE_CACHE_CONTROL = "no-cache"


class BuildError(RuntimeError):
    """The sources cannot make a consistent set of assets."""


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    content_type: str
    versioned: bool  # named by content hash

    @property
    def cache_control(self) -> str:
        if self.versioned:
            return VERSIONED_CACHE_CONTROL
        return PAGE_CACHE_CONTROL if self.name == ANALYTICS_PAGE else LOADER_CACHE_CONTROL

    @property
    def gzipped_size(self) -> int:
        return len(gzip.compress(self.body, compresslevel=9, mtime=0))


@dataclass(frozen=True)
class Bundle:
    version: str  # the hash of the UI pair: what a loader is built against
    assets: dict[str, Asset]

    @property
    def loader(self) -> Asset:
        return self.assets[LOADER]

    def first_open(self) -> list[Asset]:
        """What a visitor's browser fetches from us to open the chat: the UI files."""
        return [a for a in self.assets.values() if a.versioned and a.name.startswith("ui.")]


def build(source_dir: Path = SOURCE_DIR) -> Bundle:
    """The loader and the content-hashed UI files, in memory."""
    css = squeeze_css(_joined(source_dir, "css")).encode()
    js = squeeze_js(_ui_script(_joined(source_dir, "js"))).encode()
    css_name = f"ui.{_digest(css)}.css"
    js_name = f"ui.{_digest(js)}.js"
    version = _digest(css + js)
    loader_source = (source_dir / "loader.js").read_text(encoding="utf-8")
    for placeholder in (_UI_JS, _UI_CSS, _VERSION):
        if placeholder not in loader_source:
            raise BuildError(f"loader.js must reference the UI through {placeholder}")
    loader = (
        squeeze_js(loader_source)
        .replace(_UI_JS, js_name)
        .replace(_UI_CSS, css_name)
        .replace(_VERSION, version)
    )
    assets = [
        Asset(LOADER, loader.encode(), CONTENT_TYPES[".js"], versioned=False),
        Asset(js_name, js, CONTENT_TYPES[".js"], versioned=True),
        Asset(css_name, css, CONTENT_TYPES[".css"], versioned=True),
    ]
    assets += analytics_page(source_dir)
    return Bundle(version=version, assets={a.name: a for a in assets})


def source_files(source_dir: Path = SOURCE_DIR) -> list[Path]:
    """Every file the build reads (what a rebuild watches)."""
    return sorted([*source_dir.glob("*.*"), *(source_dir / UI_PARTS).glob("*.*")])


def _joined(source_dir: Path, extension: str) -> str:
    parts = sorted((source_dir / UI_PARTS).glob(f"*.{extension}"))
    if not parts:
        raise BuildError(f"no ui/*.{extension} parts in {source_dir}")
    return "\n".join(part.read_text(encoding="utf-8") for part in parts)


def _ui_script(parts: str) -> str:
    # One function scope for all parts: they share their declarations, and nothing of the
    # chat leaks into the iframe's globals.
    return '(function () {\n"use strict";\n' + parts + "\n})();\n"


def analytics_page(source_dir: Path = SOURCE_DIR) -> list[Asset]:
    """The analytics report: its page names its content-hashed script and style sheet."""
    css = squeeze_css((source_dir / "analytics.css").read_text(encoding="utf-8")).encode()
    js = squeeze_js((source_dir / "analytics.js").read_text(encoding="utf-8")).encode()
    css_name, js_name = f"analytics.{_digest(css)}.css", f"analytics.{_digest(js)}.js"
    page = (source_dir / ANALYTICS_PAGE).read_text(encoding="utf-8")
    for placeholder in (_ANALYTICS_JS, _ANALYTICS_CSS):
        if placeholder not in page:
            raise BuildError(f"{ANALYTICS_PAGE} must reference its files through {placeholder}")
    page = page.replace(_ANALYTICS_JS, js_name).replace(_ANALYTICS_CSS, css_name)
    return [
        Asset(ANALYTICS_PAGE, page.encode(), CONTENT_TYPES[".html"], versioned=False),
        Asset(js_name, js, CONTENT_TYPES[".js"], versioned=True),
        Asset(css_name, css, CONTENT_TYPES[".css"], versioned=True),
    ]


def write(bundle: Bundle, out_dir: Path) -> Path:
    """Write the files and a ``manifest.json`` (names, sizes, cache headers) to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for asset in bundle.assets.values():
        (out_dir / asset.name).write_bytes(asset.body)
    manifest = {
        "version": bundle.version,
        "loader": LOADER,
        "files": {
            a.name: {
                "bytes": len(a.body),
                "gzip_bytes": a.gzipped_size,
                "content_type": a.content_type,
                "cache_control": a.cache_control,
            }
            for a in bundle.assets.values()
        },
    }
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def snippet(loader_url: str, agent_id: str, publishable_key: str) -> str:
    """The one tag a customer puts on their site."""
    attrs = {"src": loader_url, "data-agent": agent_id, "data-key": publishable_key}
    quoted = " ".join(f'{name}="{html.escape(value, quote=True)}"' for name, value in attrs.items())
    return f"<script {quoted} async></script>"


def loader_url(assets_url: str) -> str:
    return assets_url.rstrip("/") + "/" + LOADER


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


# ---------------------------------------------------------------------------- squeezing
# Not a minifier: whole-line comments, indentation and blank lines go, nothing else changes, so
# the code that runs is the code that was reviewed. The sources are written for it: comments
# on lines of their own, no multi-line string literals. Gzip does the rest.


def squeeze_js(source: str) -> str:
    kept: list[str] = []
    in_comment = False
    for raw in source.splitlines():
        line = raw.strip()
        if in_comment:
            in_comment = "*/" not in line
            continue
        if line.startswith("/*"):
            if "*/" not in line:
                in_comment = True
                continue
            if line.endswith("*/"):
                continue
        if not line or line.startswith("//"):
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def squeeze_css(source: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*([{};,>])\s*", r"\1", text)
    return text.replace(";}", "}").strip() + "\n"


# ---------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m functions.widget.logic.assets")
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="write the versioned assets to a folder")
    build_cmd.add_argument("--out", default=".aws-sam/widget")
    publish_cmd = commands.add_parser(
        "publish", help="upload to the stack's WidgetAssetsBucket, then refresh the loader"
    )
    publish_cmd.add_argument("--stack-name", required=True)
    publish_cmd.add_argument("--region", default=None)
    args = parser.parse_args(argv)
    bundle = build()
    if args.command == "build":
        manifest = write(bundle, Path(args.out))
        print(manifest.read_text(encoding="utf-8"), end="")
        return
    from ..dal import assets_bucket  # boto3: only the deploy step needs it

    assets_bucket.publish(
        list(bundle.assets.values()), stack_name=args.stack_name, region=args.region
    )


if __name__ == "__main__":
    main()
