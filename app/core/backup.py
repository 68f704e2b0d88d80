"""Embedded mode's backup: the SQLite database (an online backup, consistent while the app runs) and the
stored files, in one archive; and its restore.

A production deployment backs up PostgreSQL with ``pg_dump`` and the object
store with its own tools (docs/deploy.md); these commands refuse there.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from .storage import FileStorage

FORMAT = 1
DATABASE_MEMBER = "database.sqlite"
FILES_PREFIX = "files/"
# The store's folders the academy writes: issued PDFs, job results, uploaded spreadsheets.
STORED_FOLDERS = ("certificates/", "jobs/", "uploads/")
SECRET_MEMBER = "secret_key"  # noqa: S105 - the name of a file in the archive


class BackupError(RuntimeError):
    """The backup or restore cannot be done; the message says why."""


def sqlite_path(database_url: str) -> Path:
    """The file of a SQLite database URL; BackupError for any other database."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError(
            "lms backup and lms restore are for the embedded mode (SQLite and a folder); back PostgreSQL up "
            "with pg_dump and the object store with its own tools (docs/deploy.md)"
        )
    return Path(url.database)


def _stored_files(store: FileStorage) -> list:
    """The files the academy keeps in the store (not the database, its journal, the queue or logs beside them)."""
    return [item for prefix in STORED_FOLDERS for item in store.list(prefix)]


def backup(*, database_url: str, store: FileStorage, instance_path: Path, out: Path, revision: str | None) -> dict:
    """Write the database and every stored file into ``out`` (a .tar.gz, 0600); return its manifest."""
    database = sqlite_path(database_url)
    if not database.exists():
        raise BackupError(f"{database}: no such database")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent}: no such folder")
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        copy = Path(scratch) / DATABASE_MEMBER
        source, target = sqlite3.connect(database), sqlite3.connect(copy)
        try:
            source.backup(target)  # SQLite's online backup: consistent while others write
        finally:
            source.close()
            target.close()
        files = _stored_files(store)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "revision": revision,
            "files": len(files),
            "bytes": sum(o.size for o in files),
        }
        fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
        os.close(fd)
        try:
            os.chmod(tmp, 0o600)  # it holds the ID numbers (encrypted) and, embedded, the key
            with tarfile.open(tmp, "w:gz") as archive:
                _add_bytes(archive, "manifest.json", json.dumps(manifest, indent=2).encode())
                archive.add(copy, DATABASE_MEMBER)
                secret = instance_path / SECRET_MEMBER
                if secret.exists():
                    archive.add(secret, SECRET_MEMBER)
                for item in files:
                    archive.add(store.path(item.key), FILES_PREFIX + item.key)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return manifest


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


def restore(*, archive_path: Path, database_url: str, store: FileStorage, instance_path: Path) -> dict:
    """Put the archive's database and files back (the server and worker must be stopped); return its manifest."""
    database = sqlite_path(database_url)
    try:
        archive = tarfile.open(archive_path, "r:gz")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive_path}: not a backup archive ({exc})") from None
    with archive, tempfile.TemporaryDirectory(dir=database.parent) as scratch:
        names = set(archive.getnames())
        if "manifest.json" not in names or DATABASE_MEMBER not in names:
            raise BackupError(f"{archive_path}: not a backup archive (no manifest or database)")
        manifest = json.loads(archive.extractfile("manifest.json").read())
        if manifest.get("format") != FORMAT:
            raise BackupError(f"{archive_path}: backup format {manifest.get('format')} is not {FORMAT}")
        # The "data" filter refuses absolute paths, links out of the folder and device files.
        archive.extractall(scratch, filter="data")
        restored = Path(scratch)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        os.replace(restored / DATABASE_MEMBER, database)
        if (restored / SECRET_MEMBER).exists():
            os.replace(restored / SECRET_MEMBER, instance_path / SECRET_MEMBER)
        files = restored / FILES_PREFIX.rstrip("/")
        kept = {p.relative_to(files).as_posix(): p for p in (files.rglob("*") if files.exists() else ()) if p.is_file()}
        for item in _stored_files(store):
            if item.key not in kept:  # written after the backup: the restored database knows nothing of it
                store.delete(item.key)
        for key, path in sorted(kept.items()):
            store.put_file(key, path)
    return manifest
