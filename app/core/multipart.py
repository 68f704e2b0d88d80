"""Uploaded files arrive byte for byte: a fix for Werkzeug's multipart parser, applied while it needs one.

Werkzeug (3.1.5 to 3.1.9 at least; pallets/werkzeug#3285, open) reads a form's body in 64 KiB chunks
and, at the end of each, keeps back what could be the start of the next boundary. It measures that
window by the opening delimiter (``CRLF--boundary``) while the closing one (``CRLF--boundary--``) is
two bytes longer. A file whose last bytes end a line (a PDF's ``%%EOF`` and its newline do), sent in a
body whose closing delimiter a chunk cuts just before its final ``--``, gains a stray carriage return.
Where the chunks fall depends only on the sizes of the file and of the rest of the body. A signed
certificate is some 40-380 bytes short of 256 KiB (four chunks), so its closing delimiter lands near
that edge, and for some sizes and boundaries on it: the unaltered original, one byte longer, was judged
"altered".

``apply()`` checks Werkzeug's own decoder against a body cut at such a point and, only if it gets the
file wrong, replaces its window with one measured by the closing delimiter: holding back two more bytes
is always safe (they are given out with the next chunk or at the end). A Werkzeug that parses the body
right is left as it is. The fix is process-wide: a host application mounting the academy gets its own
uploads whole too.
"""

from __future__ import annotations

from werkzeug.sansio.multipart import Data, Epilogue, MultipartDecoder, NeedData

_BOUNDARY = b"lms-check"
# One file field whose data ends a line, cut where the closing delimiter lacks its final "--\r\n".
_FILE = b"%PDF-1.7\n%%EOF\n"
_BODY = (
    b"--"
    + _BOUNDARY
    + b'\r\nContent-Disposition: form-data; name="pdf"; filename="x.pdf"\r\n\r\n'
    + _FILE
    + b"\r\n--"
    + _BOUNDARY
    + b"--\r\n"
)


def decoded_file(body: bytes, boundary: bytes, cuts: list[int]) -> bytes:
    """The data of a body's parts as Werkzeug's decoder gives it when the body arrives cut at ``cuts``."""
    decoder = MultipartDecoder(boundary)
    edges = [0, *cuts, len(body)]
    chunks = [body[a:b] for a, b in zip(edges, edges[1:], strict=False)]
    out = bytearray()
    fed_end = False
    while True:
        event = decoder.next_event()
        if isinstance(event, NeedData):
            if chunks:
                decoder.receive_data(chunks.pop(0))
            elif not fed_end:
                decoder.receive_data(None)
                fed_end = True
            else:
                break
        elif isinstance(event, Data):
            out += event.data
        elif isinstance(event, Epilogue):
            break
    return bytes(out)


def broken() -> bool:
    """Whether Werkzeug's decoder adds a byte to a file whose closing delimiter a chunk cuts short."""
    cut = len(_BODY) - len(b"-\r\n")
    return decoded_file(_BODY, _BOUNDARY, [cut]) != _FILE


def _last_partial_boundary_index(self, data: bytes | bytearray) -> int:
    # Werkzeug's own, with the window measured by the closing delimiter, the longest that can be cut short.
    complete_boundary_index = len(data) - len(b"\r\n--" + self.boundary + b"--")
    last_nl = data.rfind(b"\n")
    if last_nl == -1 or last_nl < complete_boundary_index:
        last_nl = len(data)
    last_cr = data.rfind(b"\r")
    if last_cr == -1 or last_cr < complete_boundary_index:
        last_cr = len(data)
    return min(last_nl, last_cr)


def apply() -> bool:
    """Mend Werkzeug's decoder if it needs it (once per process); whether it was mended."""
    if getattr(MultipartDecoder, "_lms_mended", False):
        return True
    if not broken():
        return False
    MultipartDecoder._last_partial_boundary_index = _last_partial_boundary_index
    MultipartDecoder._lms_mended = True
    return True
