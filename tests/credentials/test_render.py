"""The two-step renderer: sandbox, locked URL fetcher, environment check."""

from __future__ import annotations

import re
import subprocess

import pytest
from jinja2.exceptions import SecurityError

from app.credentials import render
from app.credentials.render import RenderUnavailable, load_design, qr_svg, render_html, render_many, render_pdf

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fontTools.*")


def context(**kw):
    url = "https://academy.example.cn/verify/ABCD"
    return {
        "name": "欧阳娜娜",
        "id_number": "3301**********123X",
        "unit": "和睦社区",
        "training_hours": 20.0,
        "supervision_hours": 2.0,
        "programs": ["项目社工特训营"],
        "period_year": 2022,
        "issued_on": "2022-12-20",
        "expires_on": None,
        "transition": {
            "from_label": "社区专职工作者",
            "to_label": "项目社工",
            "from": "community_worker",
            "to": "project_social_worker",
        },
        "credential": "项目社工转岗证书",
        "issuer": "杭州市拱墅区民政局",
        "serial": "GSMZ-2022-00001",
        "code": "ABCD-EFGH",
        "verify_url": url,
        "qr_svg": qr_svg(url),
        "seal_url": None,
        "records": [],
        **kw,
    }


@pytest.mark.parametrize("name", ["transition-zh", "completion-zh", "completion-en", "ce-hours-zh"])
def test_every_design_renders(name):
    design = load_design(name)
    pdf = render_pdf(design, render_html(design, context()))
    assert pdf.startswith(b"%PDF")


def test_autoescape_and_sandbox(tmp_path):
    design = load_design("transition-zh")
    html = render_html(design, context(name="<script>alert(1)</script>"))
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "metadata.yaml").write_text("title: x\nlanguage: zh_CN\nversion: 1\n", encoding="utf-8")
    (folder / "template.html").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}", encoding="utf-8")
    evil = load_design("evil", root=tmp_path)
    with pytest.raises(SecurityError):
        render_html(evil, {})


def test_fetcher_serves_only_the_design_folder(tmp_path):
    folder = tmp_path / "leaky"
    folder.mkdir()
    (folder / "metadata.yaml").write_text("title: x\nlanguage: zh_CN\nversion: 1\n", encoding="utf-8")
    (folder / "ok.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', encoding="utf-8")
    (folder / "template.html").write_text("<p>x</p>", encoding="utf-8")
    design = load_design("leaky", root=tmp_path)
    fetcher = render._fetcher(design.folder)
    assert fetcher((folder / "ok.svg").as_uri()).read()
    for url in (
        "http://example.com/x.png",
        "file:///etc/passwd",
        (folder / ".." / ".." / "etc" / "passwd").as_uri(),
        "ftp://x/y",
    ):
        with pytest.raises(ValueError):
            fetcher(url)


def test_missing_packages_are_named_with_the_install_command(monkeypatch):
    monkeypatch.setattr(render, "_missing_packages", lambda: ("libharfbuzz-subset0",))
    with pytest.raises(RenderUnavailable, match="sudo apt-get install -y libharfbuzz-subset0"):
        render.check_environment()


def test_render_many_one_page_per_certificate(tmp_path):
    design = load_design("transition-zh")
    seen = []
    pdf = render_many(
        design,
        [context(serial=f"GSMZ-2022-{i:05d}") for i in range(5)],
        progress=lambda i, n: seen.append((i, n)),
        batch=2,
    )
    assert seen == [(2, 5), (4, 5), (5, 5)]
    out = tmp_path / "many.pdf"
    out.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Pages:\s+5\b", info)


def test_unknown_design():
    with pytest.raises(render.DesignError):
        load_design("../../etc")
