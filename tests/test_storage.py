"""The file store: a folder and an S3-compatible bucket behind one interface, same behaviour."""

from __future__ import annotations

import pytest

from shegong_academy.core.storage import FileStorage, make_storage
from tests.s3 import s3_bucket, s3_server  # noqa: F401  (fixtures)


@pytest.fixture(params=["file", "s3"])
def store(request, tmp_path):
    if request.param == "file":
        return FileStorage(tmp_path / "files")
    bucket = request.getfixturevalue("s3_bucket")
    return make_storage(f"s3://{bucket}/academy", request.getfixturevalue("s3_server"))


def test_put_get_list_delete(store, tmp_path):
    store.put("certificates/GSMZ-2026-00001.pdf", b"%PDF-1.7 one", "application/pdf")
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.7 " + b"x" * 3_000_000)
    store.put_file("jobs/7/证书.pdf", big, "application/pdf")
    assert store.get("certificates/GSMZ-2026-00001.pdf") == b"%PDF-1.7 one"
    with store.open("jobs/7/证书.pdf") as body:
        assert body.read() == big.read_bytes()
    assert store.exists("jobs/7/证书.pdf") and not store.exists("jobs/8/none.pdf")
    listed = {o.key: o.size for o in store.list()}
    assert listed == {"certificates/GSMZ-2026-00001.pdf": 12, "jobs/7/证书.pdf": big.stat().st_size}
    assert [o.key for o in store.list("jobs/")] == ["jobs/7/证书.pdf"]
    store.delete("jobs/7/证书.pdf")
    assert not store.exists("jobs/7/证书.pdf")
    with pytest.raises(FileNotFoundError):
        store.open("jobs/7/证书.pdf")
    store.check()


@pytest.mark.parametrize("key", ["../secret_key", "a/../../b", "", "/", "a\x00b"])
def test_keys_cannot_leave_the_store(store, key):
    with pytest.raises(ValueError):
        store.put(key, b"x")


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    store = FileStorage(tmp_path)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", full)
    with pytest.raises(OSError):
        store.put("certificates/x.pdf", b"data")
    assert list(tmp_path.rglob("*.tmp")) == [] and not (tmp_path / "certificates" / "x.pdf").exists()


def test_an_unreachable_bucket_fails_its_check(s3_server, monkeypatch):  # noqa: F811 - the fixture
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with pytest.raises(OSError):
        make_storage("s3://no-such-bucket-here", s3_server).check()


@pytest.mark.parametrize("url", ["ftp://x/y", "s3://", "file://", "bucket"])
def test_store_urls_are_checked(url):
    with pytest.raises(ValueError):
        make_storage(url)
