"""The object store on any S3-compatible service (AWS S3, MinIO, Ceph, R2, ...).

Client choice: ``minio``, MinIO's own S3 SDK (Apache-2.0, actively released). It ships
type hints (``boto3`` needs extra stub packages for ``mypy --strict``), installs at about
half the size of ``boto3``+``botocore``, and speaks plain S3 (path-style for non-AWS
hosts) to any vendor. ``aioboto3`` would add a pinned ``aiobotocore`` on top of botocore;
an async client buys little for a few whole-object calls per evidence upload, so the sync
client runs in a worker thread (a ``Minio`` client is thread-safe).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from minio.helpers import check_bucket_name

from salesops.objectstore import (
    ObjectNotFound,
    ObjectStoreError,
    StoredObject,
    describe,
    digest_of_key,
    verify,
)

T = TypeVar("T")


class S3Store:
    """Objects in one bucket, named by their key; the SHA-256 is also kept as object
    metadata (``x-amz-meta-sha256``) and the media type as ``Content-Type``."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        create_bucket: bool = False,
    ) -> None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            raise ValueError(f"S3 endpoint {endpoint_url!r}: expected http(s)://host[:port]")
        check_bucket_name(bucket)
        self.endpoint_url = endpoint_url
        self.bucket = bucket
        self._client = Minio(
            parts.netloc,
            access_key=access_key,
            secret_key=secret_key,
            secure=parts.scheme == "https",
            region=region,
        )
        self._bucket_ready = not create_bucket
        self._bucket_lock = asyncio.Lock()

    async def put(self, content: bytes, *, media_type: str) -> StoredObject:
        stored = describe(content, media_type)
        # HEAD first so the same bytes cross the network once. Two replicas racing on
        # new bytes may both upload; they upload the same content, and S3 replaces an
        # object atomically, so the result is one whole copy either way.
        if not await self.exists(stored.key):
            await self._call(
                stored.key,
                lambda: self._client.put_object(
                    self.bucket,
                    stored.key,
                    io.BytesIO(content),
                    len(content),
                    content_type=media_type,
                    metadata={"sha256": stored.sha256},
                ),
            )
        return stored

    async def get(self, key: str) -> bytes:
        digest_of_key(key)
        content = await self._call(key, lambda: self._read(key))
        return verify(key, content, f"s3://{self.bucket}/{key}")

    async def exists(self, key: str) -> bool:
        digest_of_key(key)
        try:
            await self._call(key, lambda: self._client.stat_object(self.bucket, key))
        except ObjectNotFound:
            return False
        return True

    def _read(self, key: str) -> bytes:
        response = self._client.get_object(self.bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def _create_bucket(self) -> None:
        if self._client.bucket_exists(self.bucket):
            return
        try:
            self._client.make_bucket(self.bucket)
        except S3Error as exc:
            if exc.code != "BucketAlreadyOwnedByYou":  # another replica was first
                raise

    async def _call(self, key: str, operation: Callable[[], T]) -> T:
        """Run a blocking client call in a thread; S3 failures become our errors."""
        try:
            if not self._bucket_ready:
                async with self._bucket_lock:
                    if not self._bucket_ready:
                        await asyncio.to_thread(self._create_bucket)
                        self._bucket_ready = True
            return await asyncio.to_thread(operation)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise ObjectNotFound(key) from None
            raise ObjectStoreError(
                f"S3 bucket {self.bucket!r} at {self.endpoint_url}: {exc.code}: {exc.message}"
            ) from exc
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise ObjectStoreError(f"S3 endpoint {self.endpoint_url}: {exc}") from exc
