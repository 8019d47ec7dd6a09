"""Content-addressed storage of evidence files (photos, PDFs).

A file is stored under the SHA-256 of its bytes, so a key names exactly one content:
storing the same bytes twice yields the same key and writes nothing new, and a reader
can check what it got against the key itself. The store is a local folder by default
and any S3-compatible service when configured (:mod:`salesops.objectstore_s3`).

The media type travels with the caller's own record (the evidence event); the store
keeps it only as the S3 ``Content-Type`` of the first upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

_KEY = re.compile(r"sha256/([0-9a-f]{2})/([0-9a-f]{64})")


@dataclass(frozen=True)
class StoredObject:
    """Where a file now lives and what it is."""

    key: str
    sha256: str
    size: int
    media_type: str


class ObjectStoreError(Exception):
    """The object store could not do what was asked (unreachable, refused, misconfigured)."""


class ObjectNotFound(ObjectStoreError, KeyError):
    """No object is stored under this key."""


class InvalidObjectKey(ObjectStoreError, ValueError):
    """The key is not one this store hands out (``sha256/<2 hex>/<64 hex>``)."""


class CorruptedObject(ObjectStoreError):
    """The stored bytes no longer hash to their key: the file was altered or damaged."""


class ObjectStore(Protocol):
    """Port of the content-addressed store the tasks service keeps evidence in."""

    async def put(self, content: bytes, *, media_type: str) -> StoredObject:
        """Store ``content`` under its hash; storing the same bytes again writes nothing."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes under ``key``; raises :class:`ObjectNotFound` or :class:`CorruptedObject`."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...


def describe(content: bytes, media_type: str) -> StoredObject:
    """The key, hash and size ``content`` is stored under."""
    digest = hashlib.sha256(content).hexdigest()
    return StoredObject(
        key=f"sha256/{digest[:2]}/{digest}", sha256=digest, size=len(content), media_type=media_type
    )


def digest_of_key(key: str) -> str:
    """The SHA-256 a key names. Anything but the canonical shape is refused, which is
    also what keeps ``../`` and absolute paths out of the folder store."""
    match = _KEY.fullmatch(key)
    if match is None or match[2][:2] != match[1]:
        raise InvalidObjectKey(f"not an object key: {key!r}")
    return match[2]


def verify(key: str, content: bytes, where: str) -> bytes:
    """``content`` if it hashes to ``key``; otherwise :class:`CorruptedObject`."""
    expected = digest_of_key(key)
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected:
        raise CorruptedObject(f"{where} should hash to {expected} but hashes to {actual}")
    return content


class LocalFolderStore:
    """Objects as files under ``root/sha256/<2 hex>/<64 hex>``.

    Writes go to a temporary file in the target folder and are renamed into place, so a
    reader (or a crash) never sees half a file and concurrent puts of the same bytes
    leave one whole copy. File I/O runs in a worker thread to keep the event loop free.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        digest = digest_of_key(key)
        return self.root / "sha256" / digest[:2] / digest

    async def put(self, content: bytes, *, media_type: str) -> StoredObject:
        stored = describe(content, media_type)
        await asyncio.to_thread(self._write_once, self._path(stored.key), content)
        return stored

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            content = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        return verify(key, content, str(path))

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    @staticmethod
    def _write_once(path: Path, content: bytes) -> None:
        if path.is_file():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(content)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    # Evidence is audit material: make the rename itself survive a power cut.
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def object_store_from_settings(
    url: str | None,
    *,
    default_root: Path,
    access_key: str | None = None,
    secret_key: str | None = None,
) -> ObjectStore:
    """The store a settings URL names.

    - empty: a folder at ``default_root``
    - ``file:///abs/path``: a folder there
    - ``s3://bucket?endpoint=http://host:9000`` or ``http(s)://host:port/bucket``: an
      S3-compatible bucket; optional query ``region=...`` and ``create_bucket=true``.

    Credentials come from ``access_key``/``secret_key``, never from the URL, so the URL
    can be logged.
    """
    if not url:
        return LocalFolderStore(default_root)
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        shown = parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()
        raise ValueError(f"object store URL {shown!r}: pass credentials separately, not in it")
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/") or query:
            raise ValueError(f"object store URL {url!r}: expected file:///absolute/path")
        return LocalFolderStore(Path(unquote(parts.path)))
    if parts.scheme == "s3" and parts.hostname and parts.path in ("", "/"):
        endpoint, bucket = query.pop("endpoint", ""), parts.netloc
        if not endpoint:
            raise ValueError(f"object store URL {url!r}: add ?endpoint=http(s)://host:port")
    elif parts.scheme in ("http", "https") and parts.hostname and "/" not in parts.path.strip("/"):
        endpoint = f"{parts.scheme}://{parts.netloc}"
        bucket = parts.path.strip("/")
    else:
        raise ValueError(
            f"object store URL {url!r}: expected file:///path, s3://bucket?endpoint=... "
            "or http(s)://host:port/bucket"
        )
    return _s3_store(url, endpoint, bucket, query, access_key, secret_key)


def _s3_store(
    url: str,
    endpoint: str,
    bucket: str,
    query: dict[str, str],
    access_key: str | None,
    secret_key: str | None,
) -> ObjectStore:
    # Imported here: objectstore_s3 builds on this module's types.
    from salesops.objectstore_s3 import S3Store

    region = query.pop("region", "us-east-1")
    create_bucket = query.pop("create_bucket", "false").lower()
    if not bucket or query or create_bucket not in ("true", "false"):
        raise ValueError(
            f"object store URL {url!r}: needs a bucket; the only options are "
            "endpoint, region and create_bucket=true|false"
        )
    if not access_key or not secret_key:
        raise ValueError(f"object store URL {url!r} needs an access key and a secret key")
    try:
        return S3Store(
            endpoint_url=endpoint,
            bucket=bucket,
            access_key=access_key,
            secret_key=secret_key,
            region=region,
            create_bucket=create_bucket == "true",
        )
    except ValueError as exc:  # a bad endpoint or bucket name
        raise ValueError(f"object store URL {url!r}: {exc}") from None
