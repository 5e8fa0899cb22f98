"""Leaflet, inlined from a pip-installed package so maps open with no network at all.

Folium links Leaflet, jQuery and Bootstrap from CDNs; a map sent to a hospital or a board deck
must open on a machine that cannot reach them. XStatic-Leaflet ships the stock Leaflet release
files inside its wheel, so the script and stylesheet come from site-packages and the CSS images
(layer-control icon, default marker) are inlined as data URIs.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from importlib import metadata
from pathlib import Path

ASSET_PACKAGE = "XStatic-Leaflet"


def _data_dir() -> Path:
    """Folder of the packaged Leaflet release (raises ModuleNotFoundError when not installed)."""
    from xstatic.pkg import leaflet

    return Path(leaflet.BASE_DIR)


def asset_source() -> str:
    """Package and version the inlined Leaflet comes from, for notes and `netopt doctor`."""
    from xstatic.pkg import leaflet

    try:
        dist = metadata.version(ASSET_PACKAGE)
    except metadata.PackageNotFoundError:  # pragma: no cover - vendored copies
        dist = "unknown"
    return f"{ASSET_PACKAGE} {dist} (Leaflet {leaflet.VERSION})"


def _inline_images(css: str, folder: Path) -> str:
    """Replace url(images/x.png) by data URIs so the CSS needs no sibling files."""

    def repl(match: re.Match[str]) -> str:
        path = folder / match.group(1)
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\((images/[A-Za-z0-9_.-]+\.png)\)", repl, css)


@cache
def leaflet_assets() -> dict[str, str]:
    """File name -> text of every JS/CSS file inlined into the maps."""
    folder = _data_dir()
    js = (folder / "leaflet.js").read_text(encoding="utf-8")
    css = _inline_images((folder / "leaflet.css").read_text(encoding="utf-8"), folder)
    # drop the source-map pointer: it would make devtools try to fetch a file
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)
    for name, text in (("leaflet.js", js), ("leaflet.css", css)):
        if "</script" in text.lower() or "</style" in text.lower():
            raise ValueError(f"{name} cannot be inlined: it closes its own tag")
    return {"leaflet.js": js, "leaflet.css": css}


def inline_head() -> str:
    """<style> and <script> elements carrying Leaflet, for a page's <head>."""
    assets = leaflet_assets()
    return (f"<style>\n{assets['leaflet.css']}\n</style>\n"
            f"<script>\n{assets['leaflet.js']}\n</script>\n")
