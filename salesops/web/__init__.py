"""What the web apps (the metrics dashboard, the console) share: their common static files.

``salesops/web/static/`` holds the browser modules and styles both apps use: reading the
change stream over fetch, the API client basics (bearer token, problem documents), the
org-time-zone and decimal formatting, the dictionary lookup, the element builder and the
base stylesheet. Every file there is named ``common-*`` and each app serves them among
its own assets (``/dashboard/assets/common-live.js``, ``/assets/common-live.js``) through
:func:`asset_response`, so the apps import them as siblings (``./common-live.js``) and the
shared modules import each other the same way in both. They come through the apps'
existing asset routes rather than a route of their own: every endpoint of a service is a
row of the access matrix (tests/access_matrix.py), and these are the same public files.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse

from salesops.problems import NotFound

#: The shared files; hatch ships them in the wheel with the rest of the package.
COMMON_STATIC = Path(__file__).resolve().parent / "static"
#: Asset names served from COMMON_STATIC; an app's own files never start with it.
COMMON_PREFIX = "common-"
#: Only these kinds of file are served, each with its type (no sniffing by the browser).
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
}


def asset_response(own: Path, name: str) -> FileResponse:
    """The asset ``name``: a ``common-*`` file of the shared folder, any other of the app's
    folder ``own``. Only a file directly in that folder with a known type is served; a name
    reaching elsewhere (``..``, a link out of the folder) or a missing file is a 404."""
    folder = (COMMON_STATIC if name.startswith(COMMON_PREFIX) else own).resolve()
    path = (folder / name).resolve()
    if path.parent != folder or path.suffix not in MEDIA_TYPES or not path.is_file():
        raise NotFound(f"no asset {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix])


def page_response(own: Path, name: str = "index.html") -> FileResponse:
    """An app's HTML page from its folder ``own``."""
    return FileResponse(own / name, media_type=MEDIA_TYPES[".html"])
