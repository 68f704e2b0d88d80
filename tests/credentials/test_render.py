"""The certificate designs and the two-step renderer: text and fonts in the PDF, sandbox, locked fetcher."""

from __future__ import annotations

import base64
import io
import logging
import re
import socket
import subprocess
from pathlib import Path

import pikepdf
import pytest
from jinja2.exceptions import SecurityError, TemplateNotFound, UndefinedError

from shegong_academy.credentials import render
from shegong_academy.credentials.render import (
    DesignError,
    RenderUnavailable,
    ResourceRefused,
    cn_date,
    hours,
    load_design,
    qr_svg,
    render_each,
    render_html,
    render_many,
    render_pdf,
)

DESIGNS = ["transition-zh", "completion-zh", "completion-en", "ce-hours-zh"]
CODE = "K7QF-3MZR-WX2D-9TLB-HN4C-PVYE-6GSA-JU5Q"
URL = f"https://academy.example.cn/lms/verify/{CODE}"
SEAL = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
    '<circle cx="50" cy="50" r="46" fill="none" stroke="#d11f1f" stroke-width="4"/></svg>'
)


def context(**overrides) -> dict:
    """What services.certificate_context hands a design, with Chinese names."""
    return {
        "name": "欧阳娜娜",
        "id_number": "3301**********123X",
        "unit": "拱宸桥街道和睦社区",
        "training_hours": 24.0,
        "supervision_hours": 6.5,
        "programs": ["项目社工特训营"],
        "period_year": 2022,
        "issued_on": "2022-12-20",
        "expires_on": None,
        "transition": {
            "from": "community_worker",
            "to": "project_social_worker",
            "from_label": "社区专职工作者",
            "to_label": "项目社工",
        },
        "credential": "项目社工转岗证书",
        "issuer": "杭州市拱墅区民政局",
        "records": [],
        "serial": "GSMZ-2022-00001",
        "code": CODE,
        "verify_url": URL,
        "qr_svg": qr_svg(URL),
        "seal_url": None,
        **overrides,
    }


def records(n: int) -> list[dict]:
    titles = [
        "社会工作伦理与价值观",
        "“五社联动”助共富实务：社区、社会组织、社会工作者、志愿者与慈善资源联动",
        "个案管理",
    ]
    return [
        {"date": f"2022-{i % 12 + 1:02d}-{i % 28 + 1:02d}", "title": titles[i % 3], "kind": "培训", "hours": 1.5}
        for i in range(n)
    ]


def pdf_file(tmp_path: Path, pdf: bytes, name: str = "out.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(pdf)
    return path


def poppler(*args: str | Path) -> str:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True, timeout=60).stdout


def assert_sound(pdf: bytes) -> None:
    """qpdf (through pikepdf) finds nothing wrong: cross-references, objects, and every page's content parses."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert document.check_pdf_syntax() == []
        for page in document.pages:
            assert pikepdf.parse_content_stream(page)


def page_count(path: Path) -> int:
    return int(re.search(r"Pages:\s+(\d+)", poppler("pdfinfo", path)).group(1))


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test: rendering must never reach the network."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield
    assert not attempts


def design_folder(tmp_path: Path, template: str, *, name: str = "probe", css: str = "", single_page: bool = False):
    """A throwaway design under tmp_path/designs/<name>/."""
    folder = tmp_path / "designs" / name
    folder.mkdir(parents=True)
    (folder / "metadata.yaml").write_text(
        f"name: {name}\ntitle: 试验\nlanguage: zh_CN\norientation: portrait\nversion: 1.0.0\n"
        f"description: a probe\nsingle_page: {'true' if single_page else 'false'}\n",
        encoding="utf-8",
    )
    (folder / "theme.css").write_text(css or "body { font-family: 'Noto Serif CJK SC'; }", encoding="utf-8")
    (folder / "template.html").write_text(template, encoding="utf-8")
    return load_design(name, root=tmp_path / "designs")


# -- the designs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DESIGNS)
def test_each_design_prints_name_serial_and_code_as_text_with_an_embedded_cjk_font(name, tmp_path):
    design = load_design(name)
    holder = "付晓鑫" if name.startswith("completion") else "欧阳娜娜"
    extra = {"records": records(6)} if name == "ce-hours-zh" else {}
    path = pdf_file(tmp_path, render_pdf(design, render_html(design, context(name=holder, **extra))))

    text = poppler("pdftotext", path, "-")
    assert holder in text
    if design.language == "en":
        assert "Serial No.: GSMZ-2022-00001" in text
        assert f"Verification code: {CODE}" in text
    else:
        assert "证书编号：GSMZ-2022-00001" in text
        assert f"验证码：{CODE}" in text
    assert URL in text
    assert "杭州市拱墅区民政局" in text

    fonts = poppler("pdffonts", path)
    cjk = [line for line in fonts.splitlines() if re.search(r"Noto-?Serif-?CJK", line)]
    assert cjk, fonts
    assert all(re.search(r"\byes\s+yes\s+yes\b", line) for line in cjk), fonts  # embedded, subset, unicode

    info = poppler("pdfinfo", path)
    assert "(A4)" in info
    width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert (width > height) == (design.orientation == "landscape")


@pytest.mark.parametrize("name", DESIGNS)
def test_designs_use_only_css_and_resources_weasyprint_understands(name, caplog):
    design = load_design(name)
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        render_pdf(design, render_html(design, context(records=records(3), expires_on="2025-12-20")))
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")]


def test_metadata_of_every_design():
    for name in DESIGNS:
        design = load_design(name)
        assert design.name == name and design.title and design.description
        assert design.language in ("zh_CN", "en")
        assert design.orientation == ("portrait" if name == "ce-hours-zh" else "landscape")
        assert re.fullmatch(r"\d+(\.\d+){0,2}", design.version)
        assert design.single_page is (name != "ce-hours-zh")


def test_transition_certificate_reads_as_official_chinese():
    html = render_html(load_design("transition-zh"), context())
    text = re.sub(r"<[^>]+>|&\w+;|\s", "", html)
    assert "兹有拱宸桥街道和睦社区欧阳娜娜同志" in text
    assert "经培训和督导考核合格，准予由社区专职工作者转为项目社工。" in text
    assert "特发此证。" in text
    assert "二〇二二年十二月二十日" in text


def test_seal_image_is_drawn_when_given_as_data_uri(tmp_path):
    design = load_design("transition-zh")
    seal_url = "data:image/svg+xml;base64," + base64.b64encode(SEAL.encode()).decode()
    without = render_html(design, context())
    with_seal = render_html(design, context(seal_url=seal_url))
    assert 'class="seal"' not in without and 'class="seal"' in with_seal
    assert render_pdf(design, with_seal).startswith(b"%PDF")


def test_hours_statement_of_80_rows_runs_over_pages_and_repeats_the_header(tmp_path):
    design = load_design("ce-hours-zh")
    html = render_html(design, context(credential="继续教育学时证明", records=records(80)))
    path = pdf_file(tmp_path, render_pdf(design, html))
    pages = page_count(path)
    assert pages >= 2
    for page in range(1, pages + 1):
        text = poppler("pdftotext", "-f", page, "-l", page, path, "-")
        assert f"第{page}页/共{pages}页" in re.sub(r"\s", "", text)
        if page > 1:
            assert "证书编号：GSMZ-2022-00001" in text  # the running header ties the pages together
        if "培训课程 / 督导主题" not in text:
            assert page == pages, f"page {page} has no table header"  # only the closing may stand alone
    text = poppler("pdftotext", path, "-")
    assert text.count("培训课程 / 督导主题") >= 2
    assert "合" in text and "120" in text  # 80 × 1.5 h in the total row
    assert "验证码：" + CODE in text


def test_same_input_renders_the_same_bytes():
    # An issued certificate stores its inputs and the PDF's SHA-256 to be re-rendered and checked.
    design = load_design("completion-zh")
    html = render_html(design, context())
    assert render_pdf(design, html) == render_pdf(design, html)


# -- render_many -----------------------------------------------------------------------------------


def test_render_many_gives_one_page_per_certificate_with_fonts_embedded_once(tmp_path):
    design = load_design("transition-zh")
    names = ["欧阳娜娜", "付晓鑫", "李四", "王芳", "阿卜杜热合曼·买买提明"]
    contexts = [context(name=n, serial=f"GSMZ-2022-{i:05d}") for i, n in enumerate(names, 1)]
    seen = []
    path = pdf_file(tmp_path, render_many(design, contexts, progress=lambda i, n: seen.append((i, n)), batch=2))
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert page_count(path) == 5
    for page, holder in enumerate(names, 1):
        text = poppler("pdftotext", "-f", page, "-l", page, path, "-")
        assert holder in text and f"证书编号：GSMZ-2022-{page:05d}" in text
    single = pdf_file(tmp_path, render_pdf(design, render_html(design, contexts[0])), "one.pdf")
    fonts = [line for line in poppler("pdffonts", path).splitlines() if "CJK" in line]
    assert len(fonts) == len([line for line in poppler("pdffonts", single).splitlines() if "CJK" in line])


def test_render_many_numbers_each_multi_page_statement_on_its_own(tmp_path):
    design = load_design("ce-hours-zh")
    contexts = [context(records=records(80), serial="A-1"), context(records=records(2), serial="A-2")]
    path = pdf_file(tmp_path, render_many(design, contexts))
    long_statement = page_count(pdf_file(tmp_path, render_pdf(design, render_html(design, contexts[0])), "a.pdf"))
    assert page_count(path) == long_statement + 1
    last = poppler("pdftotext", "-f", long_statement + 1, "-l", long_statement + 1, path, "-")
    assert "第1页/共1页" in re.sub(r"\s", "", last) and "A-2" in last


def overflowing(tmp_path):
    """A single-page design and three certificates of which the second runs over several pages."""
    design = design_folder(
        tmp_path,
        '<html><head><title>{{ name }}</title><link rel="stylesheet" href="theme.css"></head><body>'
        "{% for i in range(lines) %}<p>第{{ i }}行 {{ name }}</p>{% endfor %}</body></html>",
        single_page=True,
    )
    return design, [{"lines": 1, "name": "甲"}, {"lines": 120, "name": "乙"}, {"lines": 1, "name": "丙"}]


def test_render_many_keeps_every_page_of_a_certificate_that_overflows(tmp_path):
    design, contexts = overflowing(tmp_path)
    expected = sum(
        page_count(pdf_file(tmp_path, render_pdf(design, render_html(design, c)), "x.pdf")) for c in contexts
    )
    assert expected > 3
    assert page_count(pdf_file(tmp_path, render_many(design, contexts))) == expected


def test_render_many_refuses_an_empty_list():
    with pytest.raises(ValueError):
        render_many(load_design("transition-zh"), [])


def test_render_many_beyond_a_part_joins_the_parts_in_order_each_with_its_fonts(tmp_path):
    design = load_design("transition-zh")
    names = ["欧阳娜娜", "付晓鑫", "李四", "王芳", "阿卜杜热合曼·买买提明"]
    contexts = [context(name=n, serial=f"GSMZ-2022-{i:05d}") for i, n in enumerate(names, 1)]
    seen = []
    pdf = render_many(design, contexts, progress=lambda i, n: seen.append((i, n)), batch=2, chunk=2)
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert_sound(pdf)  # joined by the academy's own code: a strict reader checks it
    path = pdf_file(tmp_path, pdf)
    assert page_count(path) == 5
    for page, holder in enumerate(names, 1):
        text = poppler("pdftotext", "-f", page, "-l", page, path, "-")
        assert holder in text and f"证书编号：GSMZ-2022-{page:05d}" in text
    fonts = [line for line in poppler("pdffonts", path).splitlines() if "CJK" in line]
    assert len(fonts) == 3 * 2 and all(" yes yes yes " in line for line in fonts)  # each part's subsets
    info = poppler("pdfinfo", path)
    assert "Tagged:          yes" in info and "Title:           项目社工转岗证书" in info
    assert poppler("pdfinfo", "-struct-text", path).count("证书编号") == 5  # one tree over the parts


# -- render_each: a PDF per certificate, a batch laid out at a time ---------------------------------


def _names_in(path: Path) -> str:
    return re.sub(r"\s", "", poppler("pdftotext", path, "-"))


def test_render_each_gives_each_certificate_a_tagged_pdf_of_its_own_in_order(tmp_path):
    design = load_design("transition-zh")
    names = ["欧阳娜娜", "付晓鑫", "李四", "王芳", "阿卜杜热合曼·买买提明"]
    codes = [f"K7QF-3MZR-WX2D-9TLB-HN4C-PVYE-{i:04d}-JU5Q" for i in range(5)]
    contexts = [
        context(name=n, serial=f"GSMZ-2022-{i:05d}", code=c, verify_url=f"{URL[: -len(CODE)]}{c}")
        for i, (n, c) in enumerate(zip(names, codes, strict=True), 1)
    ]
    pdfs = list(render_each(design, iter(contexts), batch=2))  # two batches of two, one of one
    assert len(pdfs) == 5
    for i, pdf in enumerate(pdfs):
        assert_sound(pdf)  # the pages are cut out of a batch by the academy's own code: a strict reader checks them
        path = pdf_file(tmp_path, pdf, f"{i}.pdf")
        single = pdf_file(tmp_path, render_pdf(design, render_html(design, contexts[i])), f"single-{i}.pdf")
        assert page_count(path) == 1
        text = _names_in(path)
        assert names[i] in text and f"证书编号：GSMZ-2022-{i + 1:05d}" in text and f"验证码：{codes[i]}" in text
        others = [n for j, n in enumerate(names) if j != i and n not in names[i]]
        assert not [n for n in others if n in text] and not [c for c in codes if c != codes[i] and c in text]
        fonts = [line for line in poppler("pdffonts", path).splitlines() if "CJK" in line]
        assert len(fonts) == 2 and all(" yes yes yes " in line for line in fonts)  # embedded, subset, mapped
        info, alone = poppler("pdfinfo", path), poppler("pdfinfo", single)
        assert "Tagged:          yes" in info and "Pages:           1" in info
        title = re.search(r"Title:\s+(.*)", alone).group(1)
        assert title == f"项目社工转岗证书 GSMZ-2022-{i + 1:05d}" and f"Title:           {title}" in info
        structure = poppler("pdfinfo", "-struct-text", path)
        assert names[i] in structure and "Figure" in structure  # the reading order and the QR code's figure
        # Nothing of the other certificates of its batch: the resources are the page's own.
        assert pdf.count(b"/Type /XObject") == render_pdf(design, render_html(design, contexts[i])).count(
            b"/Type /XObject"
        )


def test_render_each_renders_the_same_batch_to_the_same_bytes():
    design = load_design("completion-zh")
    contexts = [context(name=n, serial=f"S-{n}") for n in ("甲", "乙", "丙")]
    assert list(render_each(design, contexts)) == list(render_each(design, contexts))


def test_render_each_gives_a_multi_page_statement_its_own_document_as_render_pdf_does():
    design = load_design("ce-hours-zh")
    contexts = [context(records=records(80), serial="A-1"), context(records=records(2), serial="A-2")]
    assert list(render_each(design, contexts)) == [render_pdf(design, render_html(design, c)) for c in contexts]


def test_render_each_keeps_a_certificate_that_overflows_whole(tmp_path):
    design, contexts = overflowing(tmp_path)
    pdfs = list(render_each(design, contexts))
    assert [page_count(pdf_file(tmp_path, pdf, f"{i}.pdf")) for i, pdf in enumerate(pdfs)] == [
        page_count(pdf_file(tmp_path, render_pdf(design, render_html(design, c)), "x.pdf")) for c in contexts
    ]
    assert page_count(pdf_file(tmp_path, pdfs[1])) > 1


@pytest.mark.parametrize("url", ["https://example.com/seal.png", "file:///etc/passwd"])
def test_render_each_refuses_a_seal_from_outside_as_render_pdf_does(url):
    design = load_design("transition-zh")
    with pytest.raises(ResourceRefused):
        list(render_each(design, [context(), context(seal_url=url)]))


# -- step 1: the sandbox ---------------------------------------------------------------------------


def test_autoescape_neutralises_markup_in_a_name(tmp_path):
    design = load_design("transition-zh")
    html = render_html(design, context(name='<script>alert(1)</script><img src="file:///etc/passwd">'))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<img src="file:///etc/passwd">' not in html
    text = poppler("pdftotext", pdf_file(tmp_path, render_pdf(design, html)), "-")
    assert "<script>alert(1)</script>" in re.sub(r"\s", "", text)  # printed as text, harmlessly


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ name.__class__ }}",
        "{{ records.append(1) }}",  # the context is read-only
    ],
)
def test_sandbox_refuses_python_internals(source, tmp_path):
    design = design_folder(tmp_path, source)
    with pytest.raises(SecurityError):
        render_html(design, {"name": "x", "records": []})


def test_templates_see_nothing_of_the_app_nor_other_folders(tmp_path):
    design = design_folder(tmp_path, "{{ config }}")
    with pytest.raises(UndefinedError):
        render_html(design, {})
    sibling = design_folder(tmp_path, '{% include "../probe/template.html" %}', name="sibling")
    with pytest.raises(TemplateNotFound):
        render_html(sibling, {})


# -- step 2: the locked fetcher --------------------------------------------------------------------

FORBIDDEN = ["http://example.com/x.png", "https://example.com/x.css", "file:///etc/passwd", "../../../etc/passwd"]


@pytest.mark.parametrize("url", FORBIDDEN)
@pytest.mark.parametrize(
    "reference",
    [
        '<img src="{url}">',
        '<link rel="stylesheet" href="{url}">',
        '<p style="background: url({url})">x</p>',
        "<style>@import url({url});</style>",
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="{url}"/></svg>',
    ],
)
def test_a_template_cannot_reach_outside_its_folder(url, reference, tmp_path):
    design = design_folder(tmp_path, f"<html><body>{reference.format(url=url)}<p>正文</p></body></html>")
    with pytest.raises(ResourceRefused):
        render_pdf(design, render_html(design, {}))


@pytest.mark.parametrize("url", FORBIDDEN)
def test_a_context_cannot_smuggle_a_seal_from_outside(url):
    design = load_design("transition-zh")
    with pytest.raises(ResourceRefused):
        render_pdf(design, render_html(design, context(seal_url=url)))


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path):
    secret = tmp_path / "secret.svg"
    secret.write_text(SEAL, encoding="utf-8")
    design = design_folder(tmp_path, '<html><body><img src="seal.svg"></body></html>')
    (design.folder / "seal.svg").symlink_to(secret)
    with pytest.raises(ResourceRefused):
        render_pdf(design, render_html(design, {}))


def test_files_of_the_folder_and_data_uris_are_served(tmp_path):
    design = design_folder(
        tmp_path,
        '<html><head><link rel="stylesheet" href="theme.css"></head><body>'
        '<img src="seal.svg"><img src="{{ qr }}"><p>正文</p></body></html>',
    )
    (design.folder / "seal.svg").write_text(SEAL, encoding="utf-8")
    assert render_pdf(design, render_html(design, {"qr": qr_svg(URL)})).startswith(b"%PDF")

    fetcher = render._fetcher(design.folder)
    assert b"<circle" in fetcher((design.folder / "seal.svg").as_uri()).read()
    assert fetcher(qr_svg(URL)).read().startswith(b"<svg")
    outside = (design.folder / ".." / ".." / "secret.svg").as_uri()
    for url in [*FORBIDDEN[:3], outside, "ftp://x/y", "file://host/x", "file:///tmp/%00x", "file:///%2e%2e/etc/passwd"]:
        with pytest.raises(ResourceRefused):
            fetcher(url)


# -- designs and environment -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["nope", "../../etc", "transition-zh/../completion-zh", "", "UPPER"])
def test_unknown_design_names_the_available_ones(name):
    with pytest.raises(
        DesignError, match="available designs: ce-hours-zh, completion-en, completion-zh, transition-zh"
    ):
        load_design(name)


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ("title: x\n", "language is missing"),
        ("name: probe\ntitle: x\nlanguage: fr\norientation: landscape\nversion: 1\ndescription: d\n", "language"),
        ("name: probe\ntitle: x\nlanguage: en\norientation: round\nversion: 1\ndescription: d\n", "orientation"),
        ("name: probe\ntitle: x\nlanguage: en\norientation: portrait\nversion: one\ndescription: d\n", "version"),
        ("name: other\ntitle: x\nlanguage: en\norientation: portrait\nversion: 2\ndescription: d\n", "folder name"),
        ("- a list\n", "mapping"),
        ("title: [unclosed\n", "cannot be read"),
    ],
)
def test_malformed_metadata_is_reported(metadata, message, tmp_path):
    design_folder(tmp_path, "<p>x</p>")
    (tmp_path / "designs" / "probe" / "metadata.yaml").write_text(metadata, encoding="utf-8")
    with pytest.raises(DesignError, match=message):
        load_design("probe", root=tmp_path / "designs")


def test_a_design_without_its_stylesheet_is_incomplete(tmp_path):
    design_folder(tmp_path, "<p>x</p>")
    (tmp_path / "designs" / "probe" / "theme.css").unlink()
    with pytest.raises(DesignError, match="theme.css"):
        load_design("probe", root=tmp_path / "designs")


@pytest.fixture
def detection(monkeypatch):
    """Fake what the machine has; the cached answer is forgotten before and after."""
    render._missing_packages.cache_clear()

    def fake(font: bool, harfbuzz: bool) -> None:
        monkeypatch.setattr(render, "_has_cjk_font", lambda: font)
        monkeypatch.setattr(render, "_has_harfbuzz_subset", lambda: harfbuzz)
        render._missing_packages.cache_clear()

    yield fake
    monkeypatch.undo()
    render._missing_packages.cache_clear()


@pytest.mark.parametrize(
    ("font", "harfbuzz", "command"),
    [
        (False, True, "sudo apt-get install -y fonts-noto-cjk"),
        (True, False, "sudo apt-get install -y libharfbuzz-subset0"),
        (False, False, "sudo apt-get install -y fonts-noto-cjk libharfbuzz-subset0"),
    ],
)
def test_check_environment_names_exactly_what_is_missing(detection, font, harfbuzz, command):
    detection(font, harfbuzz)
    with pytest.raises(RenderUnavailable) as caught:
        render.check_environment()
    assert str(caught.value).endswith(command)
    with pytest.raises(RenderUnavailable):
        render_pdf(load_design("transition-zh"), "<p>x</p>")


def test_check_environment_passes_here(detection):
    render.check_environment()  # this machine has both (the other tests render real PDFs)


def test_font_detection_falls_back_to_the_font_file(monkeypatch, tmp_path):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    monkeypatch.setattr(render, "CJK_FONT_FILES", (tmp_path / "missing.ttc",))
    assert render._has_cjk_font() is False
    (tmp_path / "missing.ttc").write_bytes(b"x")
    assert render._has_cjk_font() is True


# -- helpers ---------------------------------------------------------------------------------------


def test_qr_code_is_an_svg_data_uri():
    uri = qr_svg(URL)
    assert uri.startswith("data:image/svg+xml") and "<" not in uri and '"' not in uri


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-12-20", "二〇二二年十二月二十日"),
        ("2021-01-01", "二〇二一年一月一日"),
        ("2030-10-31", "二〇三〇年十月三十一日"),
    ],
)
def test_chinese_signature_date(value, expected):
    assert cn_date(value) == expected


@pytest.mark.parametrize(("value", "expected"), [(20.0, "20"), (1.5, "1.5"), (2.25, "2.25"), (0, "0"), (None, "0")])
def test_hours_print_without_useless_decimals(value, expected):
    assert hours(value) == expected
