"""The web apps' assets: their own files and the shared ``common-*`` ones, nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from salesops.problems import NotFound
from salesops.web import COMMON_PREFIX, COMMON_STATIC, MEDIA_TYPES, asset_response
from services.console.app import STATIC as CONSOLE_STATIC
from services.metrics.dashboard import STATIC as DASHBOARD_STATIC

APPS = (DASHBOARD_STATIC, CONSOLE_STATIC)


@pytest.fixture
def own(tmp_path: Path) -> Path:
    folder = tmp_path / "static"
    folder.mkdir()
    (folder / "app.js").write_text("export {};\n")
    (folder / "notes.txt").write_text("not an asset\n")
    (tmp_path / "secret.js").write_text("outside the folder\n")
    (folder / "link.js").symlink_to(tmp_path / "secret.js")
    return folder


def test_an_apps_own_file_and_a_shared_one_are_served_with_their_types(own: Path) -> None:
    mine = asset_response(own, "app.js")
    assert Path(mine.path) == own / "app.js"
    assert mine.media_type == "text/javascript; charset=utf-8"
    shared = asset_response(own, "common-base.css")
    assert Path(shared.path) == COMMON_STATIC / "common-base.css"
    assert shared.media_type == "text/css; charset=utf-8"


@pytest.mark.parametrize(
    "name",
    [
        "../secret.js",  # out of the app's folder
        "link.js",  # a link out of it
        "common-../../problems.py",  # out of the shared one
        "common-missing.js",
        "missing.js",
        "notes.txt",  # not a kind of file the apps serve
        "..",
        "",
    ],
)
def test_nothing_else_is_served(own: Path, name: str) -> None:
    with pytest.raises(NotFound):
        asset_response(own, name)


def test_the_shared_folder_holds_only_assets_named_as_shared() -> None:
    files = list(COMMON_STATIC.iterdir())
    assert files
    for path in files:
        assert path.name.startswith(COMMON_PREFIX), path.name
        assert path.suffix in MEDIA_TYPES, path.name


def test_the_shared_modules_import_each_other_as_siblings_only() -> None:
    # Each app serves them among its own assets: a path to anywhere else would resolve to
    # a different file in each app.
    for module in COMMON_STATIC.glob("*.js"):
        for target in re.findall(r'from "([^"]+)"', module.read_text()):
            assert re.fullmatch(r"\./common-[\w-]+\.js", target), (module.name, target)
            assert (COMMON_STATIC / target.removeprefix("./")).is_file(), (module.name, target)


@pytest.mark.parametrize("static", APPS, ids=["dashboard", "console"])
def test_each_app_finds_every_shared_file_it_asks_for(static: Path) -> None:
    asked: set[str] = set()
    for path in static.iterdir():
        # An app file named like a shared one could never be reached.
        assert not path.name.startswith(COMMON_PREFIX), path
        if path.suffix in (".js", ".html"):
            asked |= set(re.findall(r"(common-[\w-]+\.(?:js|css))", path.read_text()))
    assert asked
    for name in asked:
        assert Path(asset_response(static, name).path) == COMMON_STATIC / name
