"""An uploaded file arrives byte for byte, wherever the server's reads cut the request body.

Werkzeug's multipart decoder (pallets/werkzeug#3285) added a carriage return to a file ending a line
when a chunk cut the closing delimiter short: an unaltered certificate uploaded to /verify/pdf was
then "altered" (a signed certificate is 40-380 bytes short of four chunks, and the test client's
boundary is random, so the PostgreSQL run failed now and then). ``app.core.multipart`` mends the
decoder; these tests cut bodies everywhere.
"""

from __future__ import annotations

import io
import random

import pytest

from shegong_academy.core import multipart

BOUNDARY = b"----WebKitFormBoundary7MA4YWxkTrZu0gW"

FILES = [
    b"%PDF-1.7\n%%EOF\n",  # a PDF's end: a line break just before the closing delimiter
    b"%PDF-1.7\r\n%%EOF\r\n",
    b"ends with a carriage return\r",
    b"ends with dashes --",
    b"\r\n--" + BOUNDARY[:-1] + b"x\r\n",  # looks like a boundary, is not one
    b"",
    b"\r\n",
    "社工学堂 证书编号 GSMZ-2026-00001\n".encode(),
]


def _body(data: bytes, *, before: bytes = b"") -> bytes:
    field = (
        (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="note"\r\n\r\n' + before + b"\r\n")
        if before
        else b""
    )
    return (
        field
        + b"--"
        + BOUNDARY
        + b'\r\nContent-Disposition: form-data; name="pdf"; filename="x.pdf"\r\n'
        + b"Content-Type: application/pdf\r\n\r\n"
        + data
        + b"\r\n--"
        + BOUNDARY
        + b"--\r\n"
    )


@pytest.fixture(autouse=True)
def _mended(app):
    """Building the application mends Werkzeug's decoder (if the installed one needs it)."""
    return app


@pytest.mark.parametrize("data", FILES, ids=range(len(FILES)))
def test_a_file_arrives_whole_wherever_one_or_two_cuts_fall(data):
    body = _body(data)
    for i in range(1, len(body)):
        assert multipart.decoded_file(body, BOUNDARY, [i]) == data, i
        for j in range(i + 1, len(body), 3):
            assert multipart.decoded_file(body, BOUNDARY, [i, j]) == data, (i, j)


def test_random_binary_files_arrive_whole_in_random_chunks():
    rnd = random.Random(3285)
    for _ in range(300):
        data = bytearray(rnd.randbytes(rnd.randrange(0, 400)))
        for _ in range(rnd.randrange(0, 12)):  # line breaks and dashes, where boundaries hide
            at = rnd.randrange(len(data) + 1)
            data[at:at] = rnd.choice([b"\r", b"\n", b"\r\n", b"--", b"\r\n--", b"\r\n--" + BOUNDARY[:9]])
        data = bytes(data) + rnd.choice([b"", b"\n", b"\r", b"\r\n", b"-"])
        body = _body(data)
        cuts = sorted(rnd.sample(range(1, len(body)), rnd.randrange(1, min(8, len(body) - 1))))
        assert multipart.decoded_file(body, BOUNDARY, cuts) == data, cuts


def test_the_mend_is_in_place_once_the_academy_is_built():
    assert not multipart.broken()
    assert multipart.apply() is True  # applied by create_app; applying again changes nothing
    assert not multipart.broken()


def test_an_upload_around_every_64_kib_edge_reaches_the_view_unchanged(app):
    """Through the request: the test client sends the body whole, Werkzeug reads it 64 KiB at a time."""
    from flask import request

    app.add_url_rule("/echo-upload", "echo_upload", lambda: request.files["pdf"].read(), methods=["POST"])
    client = app.test_client()
    rnd = random.Random(64)
    changed = []
    # The closing delimiter falls on the first chunk's edge for files some 150-300 bytes short of 64 KiB,
    # whatever the (random) boundary the client picks: every size in that window is sent.
    for size in range(65536 - 400, 65536 - 100):
        data = b"%PDF-1.7\n" + rnd.randbytes(size - 16) + b"%%EOF\n"
        got = client.post("/echo-upload", data={"pdf": (io.BytesIO(data), "x.pdf")}).data
        if got != data:
            changed.append((size, len(got) - len(data)))
    assert changed == []
