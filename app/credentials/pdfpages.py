"""One PDF per page of a laid-out batch, or one PDF of several batches, from WeasyPrint's own PDF objects.

A batch of certificates is laid out as one WeasyPrint document, so the CJK fonts are subset
once for all of them. WeasyPrint builds the batch's PDF as pydyf objects and hands them to a
``finisher`` before writing them (its documented hook for post-processing); :func:`capture`
takes them there. :func:`split` then writes each page as a PDF of its own and :func:`join`
writes several batches as one, each page with what WeasyPrint gave it: its fonts (the batch's
subset, embedded), images, the structure elements that tag its content (a tagged PDF: reading
order, alt texts, language), its outline entries, and a title. Objects shared by pages are
copied once per output, streams are compressed once per batch, and nothing is parsed back from
bytes. The same batch gives the same bytes (no time stamp, no random file identifier).

In pydyf's objects a reference is the bytes ``b"N 0 R"``, inside dictionaries, arrays and
stream dictionaries; that is what gets renumbered when objects are copied.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterable

import pydyf

_REFERENCE = re.compile(rb"(\d+) 0 R")
_NAME = re.compile(rb"/([^\s/\[\]<>(){}%]+)")
# Resources named in content streams: a page or a form gets those its content names, not the whole batch's.
_NAMED = ("ExtGState", "XObject", "Pattern", "Shading", "Font", "ColorSpace", "Properties")
# Catalog entries a page keeps in its new document: its language, show the title, and if tagged "marked".
_CATALOG_KEYS = ("Lang", "ViewerPreferences", "MarkInfo")


class _Captured(Exception):
    """Carries WeasyPrint's PDF objects out of ``write_pdf`` before it serialises them."""


def capture(document, **options) -> pydyf.PDF:
    """Draw the document and return WeasyPrint's PDF objects, unwritten (``options`` as for ``write_pdf``)."""

    def finisher(_document, pdf):
        raise _Captured(pdf)

    try:
        document.write_pdf(finisher=finisher, **options)
    except _Captured as captured:
        return captured.args[0]
    raise RuntimeError("WeasyPrint wrote the PDF without calling its finisher")


class _Serialized(pydyf.Object):
    """A value or object whose bytes are already known: shared by every output of a batch as is."""

    def __init__(self, data: bytes):
        super().__init__()
        self._data = data

    @property
    def data(self) -> bytes:
        return self._data


class _Frozen(_Serialized, pydyf.Stream):
    """A stream whose bytes are already known: its body is never encoded again (nor put in an object stream)."""

    @staticmethod
    def of(extra: dict, body: bytes) -> bytes:
        """A stream's bytes (as pydyf writes them) from its dictionary and its encoded body."""
        return b"\n".join((pydyf.Dictionary({**extra, "Length": len(body)}).data, b"stream", body, b"endstream"))


class _Batch:
    """A captured batch: its pages, structure tree, outline, and streams encoded once."""

    def __init__(self, pdf: pydyf.PDF):
        self.objects, self.catalog, self.info = pdf.objects, pdf.catalog, pdf.info
        self.pages = list(pdf.pages["Kids"][::3])  # pydyf lists a page as its number, 0, "R"
        self.contents = {_number(r) for p in self.pages for r in _listed(self.objects[p].get("Contents", []))}
        self.bodies: dict[int, tuple[dict, bytes]] = {}
        self.names: dict[int, set[str]] = {}  # a content stream's number → the names it uses
        self.streams: dict[int, bytes | None] = {}
        self._plain: dict[int, bool] = {}  # id of a dictionary or array → whether it holds no reference
        self._serialized: dict[int, _Serialized] = {}
        self.elements: dict[int, list[bytes]] = {}  # a page's number → its structure elements
        self.by_mcid: dict[int, list] = {}  # a page's StructParents key → its elements, by marked-content id
        self.keyed: dict[int, bytes] = {}  # an annotation's StructParent key → its element
        self.fixed: dict[int, str] = {}  # objects each output has its own of: number → which
        self.document = None
        root = self._get(self.catalog.get("StructTreeRoot"))
        kids = root.get("K", []) if root is not None else []
        document = self._get(kids[0]) if len(kids) == 1 else None
        if document is None or document.get("S") != "/Document":
            return  # no structure tree, or not the one WeasyPrint writes: pages are copied untagged
        for element in document.get("K", []):
            page = self._get(element).get("Pg")
            if page is None:
                return  # an element of no page cannot be given to one output: untagged
            self.elements.setdefault(_number(page), []).append(element)
        nums = self._get(root["ParentTree"])["Nums"]
        for key, value in zip(nums[::2], nums[1::2], strict=True):
            if isinstance(value, bytes):
                self.keyed[key] = value
            else:
                self.by_mcid[key] = value
        self.root, self.document = root, document
        self.fixed = {_number(self.catalog["StructTreeRoot"]): "root", _number(kids[0]): "document"}

    @property
    def tagged(self) -> bool:
        return self.document is not None

    def _get(self, reference):
        return None if reference is None else self.objects[_number(reference)]

    def body(self, number: int) -> tuple[dict, bytes]:
        """A stream's dictionary and encoded body, encoded the first time it is asked for (as pydyf would)."""
        if number not in self.bodies:
            stream = self.objects[number]
            # As pydyf's Stream.data encodes it, once for all the outputs that share the stream.
            body = b"\n".join(pydyf._to_bytes(item) for item in stream.stream)
            extra = dict(stream.extra)
            if "Resources" in extra or number in self.contents:
                self.names[number] = {name.decode("latin-1") for name in _NAME.findall(body)}
            if stream.compress:
                extra["Filter"] = "/FlateDecode"
                compressor = zlib.compressobj(level=9)
                body = compressor.compress(body) + compressor.flush()
            self.bodies[number] = (extra, body)
        return self.bodies[number]

    def names_of(self, number: int) -> set[str]:
        """The names a page's content or a form's stream uses (its fonts, images, graphic states…)."""
        self.body(number)
        return self.names.get(number, set())

    def stream(self, number: int) -> bytes | None:
        """A stream's bytes when its dictionary holds no reference (a font file, a page's content), else None."""
        if number not in self.streams:
            extra, body = self.body(number)
            self.streams[number] = _Frozen.of(extra, body) if self.plain(extra) else None
        return self.streams[number]

    def plain(self, value) -> bool:
        """Whether a dictionary or array of the batch's objects holds no reference, however deep (known by id)."""
        key = id(value)
        known = self._plain.get(key)
        if known is None:
            known = self._plain[key] = all(
                not _REFERENCE.fullmatch(item)
                if isinstance(item, bytes)
                else not isinstance(item, (dict, list, tuple)) or self.plain(item)
                for item in (value.values() if isinstance(value, dict) else value)
            )
        return known

    def serialized(self, value) -> _Serialized:
        """A plain dictionary or array, serialised once for all the outputs."""
        key = id(value)
        if key not in self._serialized:
            if not isinstance(value, pydyf.Object):
                value = pydyf.Dictionary(value) if isinstance(value, dict) else pydyf.Array(value)
            self._serialized[key] = _Serialized(value.data)
        return self._serialized[key]

    def outline(self, page: int) -> list[pydyf.Dictionary]:
        """The outline entries that lead to the page, flattened (designs bookmark one level)."""
        found, outlines = [], self._get(self.catalog.get("Outlines"))
        stack = [outlines.get("First")] if outlines is not None else []
        while stack:
            item = self._get(stack.pop())
            if item is None:
                continue
            stack += [item.get("Next"), item.get("First")]
            dest = item.get("Dest")
            if isinstance(dest, list) and isinstance(dest[0], bytes) and _number(dest[0]) == page:
                found.append(item)
        return found


def _number(reference: bytes) -> int:
    return int(_REFERENCE.fullmatch(reference)[1])


def _listed(value) -> list:
    return [value] if isinstance(value, bytes) else list(value)


class _Output:
    """One PDF being assembled from pages of captured batches."""

    def __init__(self, first: _Batch):
        self.pdf = pdf = pydyf.PDF()
        self.tagged = first.tagged
        self.copied: dict[int, bytes] = {}  # the current batch's object number → this output's reference
        self.elements = pydyf.Array()  # the pages' structure elements, in page order
        self.nums: list[tuple[pydyf.Object, str, object]] = []  # (page or annotation, key name, its elements)
        self.outline: list[pydyf.Dictionary] = []
        self.info: dict = dict(first.info)
        self.catalog: dict = {}  # the first batch's language, "marked", viewer preferences
        self.structure: tuple[dict, dict] = ({}, {})  # the first batch's tree root and document entries
        self.started = False
        if self.tagged:
            self.root, self.document = pydyf.Dictionary({"Type": "/StructTreeRoot"}), pydyf.Dictionary()
            pdf.add_object(self.root)
            pdf.add_object(self.document)

    def add_pages(self, batch: _Batch, pages: Iterable[int]) -> None:
        """Copy these pages (by index) of the batch, with their structure elements and outline entries."""
        numbers = [batch.pages[i] for i in pages]
        self.copied = {n: b"null" for n in batch.pages}  # a link to a page left out leads nowhere
        tagged = self.tagged = self.tagged and batch.tagged
        if tagged:
            fixed = {"root": self.root.reference, "document": self.document.reference}
            self.copied.update({n: fixed[which] for n, which in batch.fixed.items()})
        first_new, held = len(self.pdf.objects), set()  # held: objects the end still writes to
        if not self.started:
            self._start(batch)
        copies = []
        for number in numbers:  # all numbered first, so that a link between copied pages finds its target
            page = pydyf.Dictionary()
            self.pdf.add_page(page)
            self.copied[number] = page.reference
            copies.append(page)
            held.add(page.number)
        for number, page in zip(numbers, copies, strict=True):
            original = batch.objects[number]
            for key, value in original.items():
                if key not in ("Parent", "StructParents", "Resources"):
                    page[key] = self._copy(value, batch)
            if "Resources" in original:
                contents = [_number(r) for r in _listed(original.get("Contents", []))]
                names = set().union(*(batch.names_of(n) for n in contents))
                page["Resources"] = self._resources(original["Resources"], names, batch)
            page["Parent"] = self.pdf.pages.reference
            self.outline += [self._entry(item, batch) for item in batch.outline(number)]
            if not tagged:
                continue
            self.elements.extend(self._copy(element, batch) for element in batch.elements.get(number, []))
            if original.get("StructParents") in batch.by_mcid:
                self.nums.append((page, "StructParents", self._copy(batch.by_mcid[original["StructParents"]], batch)))
            for annotation in original.get("Annots", []):
                key = batch.objects[_number(annotation)].get("StructParent")
                if key in batch.keyed:
                    copy = self.pdf.objects[_number(self._copy(annotation, batch))]
                    self.nums.append((copy, "StructParent", self._copy(batch.keyed[key], batch)))
                    held.add(copy.number)
        self._freeze(first_new, held)

    def _start(self, first: _Batch) -> None:
        """Take what the end needs from the first batch, so that no batch is kept."""
        self.started = True
        keys = _CATALOG_KEYS if self.tagged else _CATALOG_KEYS[:2]
        self.catalog = {key: self._copy(first.catalog[key], first) for key in keys if key in first.catalog}
        if self.tagged:
            self.structure = tuple(
                {key: self._copy(value, first) for key, value in entries.items() if key not in skip}
                for entries, skip in (
                    (first.root, ("K", "ParentTree", "ParentTreeNextKey")),
                    (first.document, ("K", "P")),
                )
            )

    def _freeze(self, first_new: int, held: set[int]) -> None:
        """Serialise the objects this batch added (their references are final): bytes weigh less than dictionaries."""
        objects = self.pdf.objects
        for number in range(first_new, len(objects)):
            if number not in held and isinstance(objects[number], (pydyf.Dictionary, pydyf.Array)):
                frozen = objects[number] = _Serialized(objects[number].data)
                frozen.number = number

    def _entry(self, item: pydyf.Dictionary, batch: _Batch) -> pydyf.Dictionary:
        return pydyf.Dictionary({"Title": item["Title"], "Dest": self._copy(item["Dest"], batch)})

    def _copy(self, value, batch: _Batch):
        """The value for this output: references renumbered, the objects they lead to copied once."""
        if isinstance(value, bytes):
            match = _REFERENCE.fullmatch(value)
            return self._reference(int(match[1]), batch) if match else value
        if isinstance(value, (dict, list, tuple)):
            if batch.plain(value):
                return batch.serialized(value)  # a font's widths, a bounding box: no need to copy
            if isinstance(value, dict):
                return pydyf.Dictionary({key: self._copy(item, batch) for key, item in value.items()})
            return pydyf.Array(self._copy(item, batch) for item in value)
        return value  # a number, a name, a string

    def _reference(self, number: int, batch: _Batch) -> bytes:
        reference = self.copied.get(number)
        if reference is not None:
            return reference
        original = batch.objects[number]
        if isinstance(original, pydyf.Stream):
            copy = _Frozen(batch.stream(number) or b"")  # empty: its dictionary is copied below
        elif isinstance(original, (dict, list)) and batch.plain(original):
            copy = _Serialized(batch.serialized(original).data)
        elif isinstance(original, dict):
            copy = pydyf.Dictionary()
        elif isinstance(original, list):
            copy = pydyf.Array()
        elif isinstance(original, pydyf.String):
            copy = pydyf.String(original.string)
        else:
            raise TypeError(f"cannot copy PDF object {number}: {type(original).__name__}")
        self.pdf.add_object(copy)
        reference = self.copied[number] = copy.reference  # before the contents: cycles end here
        if isinstance(copy, _Frozen) and not copy.data:  # its dictionary refers to objects of this output
            extra, body = batch.body(number)
            copied = {key: self._copy(value, batch) for key, value in extra.items() if key != "Resources"}
            if "Resources" in extra:
                copied["Resources"] = self._resources(extra["Resources"], batch.names_of(number), batch)
            copy._data = _Frozen.of(copied, body)
        elif isinstance(copy, pydyf.Dictionary):
            copy.update(self._copy(original, batch))
        elif isinstance(copy, pydyf.Array):
            copy.extend(self._copy(original, batch))
        return reference

    def _resources(self, resources, names: set[str], batch: _Batch) -> pydyf.Dictionary:
        """Resources for one content stream: of each kind, only those its content names.

        WeasyPrint gives all the pages of a document one resource dictionary; a certificate's PDF
        must not carry the other certificates' QR codes.
        """
        if isinstance(resources, bytes):
            resources = batch.objects[_number(resources)]
        out = pydyf.Dictionary()
        for kind, value in resources.items():
            if kind not in _NAMED:
                out[kind] = self._copy(value, batch)
                continue
            named = batch.objects[_number(value)] if isinstance(value, bytes) else value
            if named is not None:
                out[kind] = pydyf.Dictionary({k: self._copy(v, batch) for k, v in named.items() if k in names})
        return out

    def write(self, title: str | None) -> bytes:
        """Finish the catalog (structure tree, outline, language) and the title; return the PDF."""
        pdf = self.pdf
        if self.tagged:
            self._finish_structure()
        if self.outline:
            self._finish_outline()
        pdf.catalog.update(self.catalog if self.tagged else {k: v for k, v in self.catalog.items() if k != "MarkInfo"})
        pdf.info.update(self.info)
        if title:
            pdf.info["Title"] = pydyf.String(title)
        out = io.BytesIO()
        pdf.write(out, compress=True)
        return out.getvalue()

    def _finish_structure(self) -> None:
        root_entries, document_entries = self.structure  # the first batch's stand for all
        self.document.update(document_entries)
        self.document.update({"Type": "/StructElem", "S": "/Document", "P": self.root.reference, "K": self.elements})
        self.root.update(root_entries)
        nums = pydyf.Array()
        for key, (holder, name, elements) in enumerate(self.nums):
            holder[name] = key
            nums += [key, elements]
        parent_tree = pydyf.Dictionary({"Nums": nums})
        self.pdf.add_object(parent_tree)
        self.root.update({"K": pydyf.Array([self.document.reference]), "ParentTree": parent_tree.reference})
        self.root["ParentTreeNextKey"] = len(self.nums)
        self.pdf.catalog["StructTreeRoot"] = self.root.reference

    def _finish_outline(self) -> None:
        outlines = pydyf.Dictionary({"Type": "/Outlines", "Count": len(self.outline)})
        self.pdf.add_object(outlines)
        for entry in self.outline:
            self.pdf.add_object(entry)
            entry["Parent"] = outlines.reference
        for before, after in zip(self.outline, self.outline[1:], strict=False):
            before["Next"], after["Prev"] = after.reference, before.reference
        outlines.update({"First": self.outline[0].reference, "Last": self.outline[-1].reference})
        self.pdf.catalog["Outlines"] = outlines.reference


def split(pdf: pydyf.PDF, titles: list[str]) -> list[bytes]:
    """One standalone PDF per page of the captured batch, in order, titled ``titles[i]``."""
    batch = _Batch(pdf)
    if len(titles) != len(batch.pages):
        raise ValueError(f"{len(titles)} titles for {len(batch.pages)} pages")
    out = []
    for i, title in enumerate(titles):
        output = _Output(batch)
        output.add_pages(batch, [i])
        out.append(output.write(title))
    return out


class Joiner:
    """One PDF of the pages of several captured batches, in order; a batch can go once it is added."""

    def __init__(self):
        self._output: _Output | None = None

    def add(self, pdf: pydyf.PDF) -> None:
        """Append all pages of the captured batch (its fonts embedded once, its streams compressed now)."""
        batch = _Batch(pdf)
        self._output = self._output or _Output(batch)
        self._output.add_pages(batch, range(len(batch.pages)))

    def write(self, title: str | None = None) -> bytes:
        """The joined PDF, titled ``title`` (else the first batch's title)."""
        if self._output is None:
            raise ValueError("nothing to join")
        return self._output.write(title)


def join(pdfs: Iterable[pydyf.PDF], title: str | None = None) -> bytes:
    """One PDF of all pages of these captured batches, in order (each batch's fonts embedded once)."""
    joiner = Joiner()
    for pdf in pdfs:
        joiner.add(pdf)
    return joiner.write(title)
