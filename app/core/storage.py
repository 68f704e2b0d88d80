"""Where files live: issued PDFs, print results, uploaded spreadsheets — behind one small interface.

``LMS_STORAGE_URL`` chooses: ``file:///path`` (a folder; the embedded mode's
default is the instance folder) or ``s3://bucket/prefix`` (any S3-compatible
store: MinIO, cloud S3; ``LMS_S3_ENDPOINT_URL`` and boto3's usual
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_DEFAULT_REGION``).
No feature reads the local disk directly: they ask :func:`storage` for keys
such as ``certificates/GSMZ-2026-00001.pdf``. Several machines share nothing
but the object store.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from flask import current_app


class StorageError(OSError):
    """The store refused or could not be reached; ``errno`` says why when the disk said so."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime


class Storage(Protocol):
    """What the academy needs of a file store."""

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None: ...

    def get(self, key: str) -> bytes: ...

    def open(self, key: str) -> BinaryIO: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "") -> Iterator[StoredObject]: ...

    def check(self) -> None: ...


def _safe_key(key: str) -> str:
    parts = [p for p in key.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts) or "\x00" in key:
        raise ValueError(f"not a storage key: {key!r}")
    return "/".join(parts)


class FileStorage:
    """A folder: keys are relative paths; writes go to a temporary file that is renamed into place."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """The file behind ``key`` (for ``send_file``)."""
        return self.root / _safe_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
                while chunk := src.read(1024 * 1024):
                    out.write(chunk)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")  # noqa: SIM115 — the caller closes it

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                stat = path.stat()
                yield StoredObject(
                    path.relative_to(self.root).as_posix(), stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)
                )

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root} cannot be written")


class S3Storage:
    """A bucket (and a key prefix) of an S3-compatible store, through boto3."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60),
        )

    def _key(self, key: str) -> str:
        key = _safe_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _errors(self):
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)
        except self._errors() as exc:
            raise StorageError(f"s3 put {key}: {exc}") from exc

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        try:
            self.client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs={"ContentType": content_type})
        except self._errors() as exc:
            raise StorageError(f"s3 put {key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        with self.open(key) as body:
            return body.read()

    def open(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except self._errors() as exc:
            if _not_found(exc):
                raise FileNotFoundError(key) from exc
            raise StorageError(f"s3 get {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except self._errors() as exc:
            if _not_found(exc):
                return False
            raise StorageError(f"s3 head {key}: {exc}") from exc
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except self._errors() as exc:
            raise StorageError(f"s3 delete {key}: {exc}") from exc

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        full = self._key(prefix) if prefix else (self.prefix + "/" if self.prefix else "")
        cut = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                for item in page.get("Contents", []):
                    yield StoredObject(item["Key"][cut:], item["Size"], item["LastModified"])
        except self._errors() as exc:
            raise StorageError(f"s3 list {prefix}: {exc}") from exc

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except self._errors() as exc:
            raise StorageError(f"s3 bucket {self.bucket}: {exc}") from exc


def _not_found(exc) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def make_storage(url: str, endpoint_url: str | None = None) -> Storage:
    """Build the store named by ``url`` (``file:///path`` or ``s3://bucket/prefix``)."""
    parts = urlsplit(url)
    if parts.scheme == "file" and (parts.netloc or parts.path):
        return FileStorage(Path(unquote(parts.netloc + parts.path)))
    if parts.scheme == "s3" and parts.netloc:
        return S3Storage(parts.netloc, parts.path, endpoint_url)
    raise ValueError(f"LMS_STORAGE_URL must be file:///path or s3://bucket/prefix, got {parts.scheme or url!r}")


def storage() -> Storage:
    """The application's file store (built once per application)."""
    cached = current_app.extensions.get("lms_storage")
    if cached is None:
        cached = make_storage(current_app.config["LMS_STORAGE_URL"], current_app.config.get("LMS_S3_ENDPOINT_URL"))
        current_app.extensions["lms_storage"] = cached
    return cached
