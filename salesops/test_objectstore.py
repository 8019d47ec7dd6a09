"""The evidence object store, run against a local folder and a real S3-compatible server.

The S3 server is moto's, started in-process on a free local port: real HTTP, real S3
signatures and XML, no Docker.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from minio import Minio
from minio.commonconfig import ENABLED
from minio.versioningconfig import VersioningConfig
from moto.server import ThreadedMotoServer

from salesops.objectstore import (
    CorruptedObject,
    InvalidObjectKey,
    LocalFolderStore,
    ObjectNotFound,
    ObjectStore,
    object_store_from_settings,
)
from salesops.objectstore_s3 import S3Store

PHOTO = b"\xff\xd8\xff\xe0 photo of the signed delivery note"
QUOTATION = b"%PDF-1.7 quotation for 40 units at 12% off"
ACCESS_KEY, SECRET_KEY = "evidence-writer", "evidence-writer-secret"
MISSING_KEY = "sha256/00/" + "0" * 64


@dataclass
class Backend:
    store: ObjectStore
    overwrite: Callable[[str, bytes], None]  # tampers with a stored object behind the store


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_admin(s3_endpoint: str) -> Minio:
    """A plain client to look at the bucket from outside the store."""
    return Minio(
        s3_endpoint.removeprefix("http://"),
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        secure=False,
        region="us-east-1",
    )


@pytest.fixture
def bucket(s3_admin: Minio) -> str:
    """A fresh versioned bucket, so every upload leaves a trace we can count."""
    name = f"evidence-{uuid.uuid4().hex[:12]}"
    s3_admin.make_bucket(name)
    s3_admin.set_bucket_versioning(name, VersioningConfig(ENABLED))
    return name


def s3_store(endpoint: str, bucket: str, *, create_bucket: bool = False) -> S3Store:
    return S3Store(
        endpoint_url=endpoint,
        bucket=bucket,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        create_bucket=create_bucket,
    )


@pytest.fixture(params=["folder", "s3"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, s3_endpoint: str, s3_admin: Minio
) -> Backend:
    if request.param == "folder":

        def overwrite_file(key: str, content: bytes) -> None:
            (tmp_path / key).write_bytes(content)

        return Backend(LocalFolderStore(tmp_path), overwrite_file)

    bucket: str = request.getfixturevalue("bucket")

    def overwrite_object(key: str, content: bytes) -> None:
        s3_admin.put_object(bucket, key, io.BytesIO(content), len(content))

    return Backend(s3_store(s3_endpoint, bucket), overwrite_object)


# --- the contract, on every backend ---------------------------------------------------


async def test_put_then_get_returns_the_same_bytes(backend: Backend) -> None:
    stored = await backend.store.put(PHOTO, media_type="image/jpeg")

    assert await backend.store.get(stored.key) == PHOTO
    assert await backend.store.exists(stored.key)


async def test_key_is_the_sha256_of_the_content(backend: Backend) -> None:
    digest = hashlib.sha256(QUOTATION).hexdigest()

    stored = await backend.store.put(QUOTATION, media_type="application/pdf")

    assert stored.key == f"sha256/{digest[:2]}/{digest}"
    assert (stored.sha256, stored.size, stored.media_type) == (
        digest,
        len(QUOTATION),
        "application/pdf",
    )


async def test_same_bytes_get_the_same_key_and_different_bytes_a_different_one(
    backend: Backend,
) -> None:
    first = await backend.store.put(PHOTO, media_type="image/jpeg")
    again = await backend.store.put(PHOTO, media_type="image/jpeg")
    other = await backend.store.put(QUOTATION, media_type="application/pdf")

    assert first == again
    assert other.key != first.key
    assert await backend.store.get(other.key) == QUOTATION


async def test_empty_file_is_stored_like_any_other(backend: Backend) -> None:
    stored = await backend.store.put(b"", media_type="text/plain")

    assert stored.size == 0
    assert await backend.store.get(stored.key) == b""


async def test_a_key_nobody_stored_does_not_exist(backend: Backend) -> None:
    assert not await backend.store.exists(MISSING_KEY)
    with pytest.raises(ObjectNotFound) as raised:
        await backend.store.get(MISSING_KEY)
    assert isinstance(raised.value, KeyError)


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "sha256/../../../etc/passwd",
        "sha256/ab/../../../../etc/passwd",
        "sha256/ab/" + "cd" * 32,  # prefix does not match the hash
        "sha256/AB/" + "AB" * 32,  # not canonical lowercase
        "sha256/ab/" + "ab" * 32 + "/..",
        "",
    ],
)
async def test_keys_the_store_never_hands_out_are_refused(backend: Backend, key: str) -> None:
    with pytest.raises(InvalidObjectKey):
        await backend.store.get(key)
    with pytest.raises(InvalidObjectKey):
        await backend.store.exists(key)


async def test_a_tampered_object_is_detected_on_get(backend: Backend) -> None:
    stored = await backend.store.put(QUOTATION, media_type="application/pdf")
    backend.overwrite(stored.key, QUOTATION.replace(b"12%", b"42%"))

    with pytest.raises(CorruptedObject, match=stored.sha256):
        await backend.store.get(stored.key)


# --- the local folder -----------------------------------------------------------------


async def test_folder_keeps_each_file_under_its_key(tmp_path: Path) -> None:
    stored = await LocalFolderStore(tmp_path / "evidence").put(PHOTO, media_type="image/jpeg")

    assert (tmp_path / "evidence" / stored.key).read_bytes() == PHOTO


async def test_folder_second_put_of_the_same_bytes_writes_nothing(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    stored = await store.put(PHOTO, media_type="image/jpeg")
    before = (tmp_path / stored.key).stat()

    await store.put(PHOTO, media_type="image/jpeg")

    after = (tmp_path / stored.key).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


async def test_folder_traversal_cannot_read_a_file_outside_the_root(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_bytes(b"payroll")
    store = LocalFolderStore(tmp_path / "evidence")

    with pytest.raises(InvalidObjectKey):
        await store.get("../secret.txt")


async def test_folder_concurrent_puts_of_the_same_bytes_leave_one_whole_file(
    tmp_path: Path,
) -> None:
    store = LocalFolderStore(tmp_path)
    content = PHOTO * 50_000  # large enough for writes to overlap

    results = await asyncio.gather(
        *(store.put(content, media_type="image/jpeg") for _ in range(16))
    )

    assert len({stored.key for stored in results}) == 1
    folder = (tmp_path / results[0].key).parent
    assert [path.name for path in folder.iterdir()] == [results[0].sha256]  # no temp files
    assert await store.get(results[0].key) == content


# --- S3 -------------------------------------------------------------------------------


async def test_s3_second_put_of_the_same_bytes_uploads_nothing(
    s3_endpoint: str, bucket: str, s3_admin: Minio
) -> None:
    store = s3_store(s3_endpoint, bucket)
    stored = await store.put(PHOTO, media_type="image/jpeg")

    await store.put(PHOTO, media_type="image/jpeg")

    def versions() -> int:
        return len(list(s3_admin.list_objects(bucket, prefix=stored.key, include_version=True)))

    assert versions() == 1
    s3_admin.put_object(bucket, stored.key, io.BytesIO(PHOTO), len(PHOTO))
    assert versions() == 2  # the bucket does record every upload


async def test_s3_object_carries_its_hash_and_media_type(
    s3_endpoint: str, bucket: str, s3_admin: Minio
) -> None:
    stored = await s3_store(s3_endpoint, bucket).put(QUOTATION, media_type="application/pdf")

    stat = s3_admin.stat_object(bucket, stored.key)
    assert stat.content_type == "application/pdf"
    assert stat.metadata is not None
    assert stat.metadata["x-amz-meta-sha256"] == stored.sha256


async def test_s3_store_can_create_its_bucket(s3_endpoint: str, s3_admin: Minio) -> None:
    name = f"evidence-new-{uuid.uuid4().hex[:8]}"
    store = s3_store(s3_endpoint, name, create_bucket=True)

    assert not await store.exists(MISSING_KEY)
    stored = await store.put(PHOTO, media_type="image/jpeg")
    assert s3_admin.bucket_exists(name)
    assert await store.get(stored.key) == PHOTO


# --- configuration --------------------------------------------------------------------


@pytest.mark.parametrize("url", [None, ""])
def test_no_url_means_the_default_folder(tmp_path: Path, url: str | None) -> None:
    store = object_store_from_settings(url, default_root=tmp_path)

    assert isinstance(store, LocalFolderStore)
    assert store.root == tmp_path


def test_file_url_names_the_folder(tmp_path: Path) -> None:
    store = object_store_from_settings("file:///srv/sales%20evidence", default_root=tmp_path)

    assert isinstance(store, LocalFolderStore)
    assert store.root == Path("/srv/sales evidence")


@pytest.mark.parametrize(
    ("url", "endpoint", "bucket"),
    [
        ("s3://evidence?endpoint=http://127.0.0.1:9000", "http://127.0.0.1:9000", "evidence"),
        ("http://minio:9000/evidence", "http://minio:9000", "evidence"),
        ("https://s3.example.com/sales-evidence/?region=eu-west-1", "https://s3.example.com",
         "sales-evidence"),
    ],
)  # fmt: skip
def test_s3_urls_name_endpoint_and_bucket(
    tmp_path: Path, url: str, endpoint: str, bucket: str
) -> None:
    store = object_store_from_settings(
        url, default_root=tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY
    )

    assert isinstance(store, S3Store)
    assert (store.endpoint_url, store.bucket) == (endpoint, bucket)


async def test_s3_url_with_create_bucket_gives_a_working_store(
    tmp_path: Path, s3_endpoint: str
) -> None:
    url = f"s3://evidence-{uuid.uuid4().hex[:8]}?endpoint={s3_endpoint}&create_bucket=true"
    store = object_store_from_settings(
        url, default_root=tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY
    )

    stored = await store.put(QUOTATION, media_type="application/pdf")
    assert await store.get(stored.key) == QUOTATION


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.com/evidence",
        "evidence",
        "file://fileserver/evidence",
        "file:relative/evidence",
        "s3://evidence",
        "s3://evidence?endpoint=http://minio:9000&colour=red",
        "s3://evidence?endpoint=http://minio:9000&create_bucket=maybe",
        "http://minio:9000",
        "http://minio:9000/evidence/photos",
        "s3://ev?endpoint=http://minio:9000",
        "s3://evidence?endpoint=ftp://minio:9000",
        "s3://evidence?endpoint=http://minio:9000/s3",
    ],
)
def test_unusable_urls_are_refused_naming_the_url(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(url))):
        object_store_from_settings(
            url, default_root=tmp_path, access_key=ACCESS_KEY, secret_key=SECRET_KEY
        )


def test_s3_url_without_credentials_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="access key"):
        object_store_from_settings("http://minio:9000/evidence", default_root=tmp_path)


def test_credentials_in_the_url_are_refused_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="credentials") as raised:
        object_store_from_settings(
            "http://writer:hunter2@minio:9000/evidence", default_root=tmp_path
        )
    assert "hunter2" not in str(raised.value)
    assert "***@minio:9000" in str(raised.value)
