"""Message catalogues: every string in the code has a Chinese translation; English is first-class too.

The messages are extracted afresh from the sources on every run, so a new ``_()``
string without a translation fails here rather than showing up in English on a
Chinese page.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.util import pathmatch

from shegong_academy.extensions import db
from tests.conftest import make_app

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
# Babel parses "zh_CN" into zh_Hans_CN, and Flask-Babel looks for a folder of that name.
ZH_PO = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None}
REGENERATE = (
    "regenerate with: pybabel extract -F babel.cfg -k _l --ignore-dirs='.* __pycache__' "
    "-o app/translations/messages.pot . && pybabel update -i app/translations/messages.pot -d app/translations"
)
# printf conversions, named or not, and "%%"; a lone "%" counts too, because
# Jinja's new-style gettext always applies "%" to the translated string.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*\d*(?:\.\d+)?[a-zA-Z%]|%")


def _app_jinja_extensions() -> str:
    """The Jinja extensions the app renders with, as babel's ``extensions`` option."""
    app = make_app("sqlite://")
    return ",".join(f"{type(e).__module__}.{type(e).__qualname__}" for e in app.jinja_env.extensions.values())


def _keep_directory(path: str) -> bool:
    # Unlike babel's default, walk "_"-prefixed folders: templates/_macros holds strings.
    name = Path(path).name
    return not name.startswith(".") and name != "__pycache__"


def _mapping() -> tuple[list[tuple[str, str]], dict[str, dict]]:
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        return parse_mapping_cfg(f, filename="babel.cfg")


@pytest.fixture(scope="module")
def extracted() -> dict[tuple[str, str | None], list[str]]:
    """Every message in the sources as babel.cfg maps them: (msgid, context) → where it occurs."""
    method_map, options_map = _mapping()
    extensions = _app_jinja_extensions()
    options = {}
    for pattern, method in method_map:
        options[pattern] = dict(options_map.get(pattern, {}))
        if method == "jinja2":
            # Parse templates as the app does, and never skip one that fails to parse.
            options[pattern]["extensions"] = extensions
            options[pattern]["silent"] = "false"
    found: dict[tuple[str, str | None], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options, keywords=KEYWORDS, directory_filter=_keep_directory
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault((msgid, context), []).append(f"{filename}:{lineno}")
    assert found, "no messages extracted: is babel.cfg mapping the sources?"
    return found


def _shown(path: Path) -> str:
    return os.path.relpath(path, ROOT)


def _load(path: Path) -> Catalog:
    assert path.is_file(), f"{_shown(path)} is missing; {REGENERATE}"
    with open(path, "rb") as f:
        return read_po(f)


def _strings(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def _describe(keys, extracted) -> str:
    return "\n".join(f"  {msgid!r} ({', '.join(extracted[msgid, ctx][:2])})" for msgid, ctx in sorted(keys))


def test_every_message_has_a_chinese_translation(extracted):
    zh = _load(ZH_PO)
    missing = []
    for msgid, context in extracted:
        message = zh.get(msgid, context)
        if message is None or message.fuzzy or not all(_strings(message)):
            missing.append((msgid, context))
    assert not missing, (
        f"{len(missing)} message(s) lack a non-fuzzy Chinese translation in {_shown(ZH_PO)}:\n"
        f"{_describe(missing, extracted)}\n{REGENERATE}, then translate them."
    )


def test_chinese_translations_keep_the_placeholders():
    zh = _load(ZH_PO)
    wrong = []
    for message in zh:
        if not message.id or not message.string:
            continue
        ids = list(message.id) if isinstance(message.id, tuple) else [message.id]
        expected = Counter(PLACEHOLDER.findall(ids[-1]))
        for string in _strings(message):
            if string and Counter(PLACEHOLDER.findall(string)) != expected:
                wrong.append(f"  {ids[0]!r} → {string!r}")
    assert not wrong, "placeholders differ between msgid and msgstr:\n" + "\n".join(wrong)


def test_english_catalogue_lists_every_message(extracted):
    en = _load(EN_PO)
    missing = [(msgid, ctx) for msgid, ctx in extracted if en.get(msgid, ctx) is None]
    assert not missing, (
        f"{len(missing)} message(s) missing from {_shown(EN_PO)}:\n{_describe(missing, extracted)}\n{REGENERATE}"
    )
    # English is the source language: an empty msgstr falls back to the msgid.
    # (A plural message holds a tuple of forms: empty forms fall back too.)
    filled = [
        m.id
        for m in en
        if m.id and any(_strings(m)) and _strings(m) != (list(m.id) if isinstance(m.id, tuple) else [m.id])
    ]
    assert not filled, f"English msgstr differs from its msgid: {filled}"


def test_babel_cfg_parses_every_template():
    """pybabel silently skips a template it cannot parse, losing its strings from the catalogue."""
    method_map, options_map = _mapping()
    broken = []
    for pattern, method in method_map:
        if method != "jinja2":
            continue
        options = {**options_map.get(pattern, {}), "silent": "false"}
        for path in sorted(ROOT.glob(pattern.split("/", 1)[0] + "/**/*")):
            if not path.is_file() or not pathmatch(pattern, path.relative_to(ROOT).as_posix()):
                continue
            try:
                list(extract_from_file(method, str(path), keywords=KEYWORDS, options=options))
            except Exception as exc:  # report every template, whatever the error
                broken.append(f"  {path.relative_to(ROOT)}: {exc}")
    assert not broken, (
        "pybabel cannot parse these templates with babel.cfg's options, so it drops their strings "
        "(add the app's Jinja extensions, e.g. extensions=jinja2.ext.do, to the section):\n" + "\n".join(broken)
    )


@pytest.fixture
def compiled(tmp_path) -> Path:
    """The committed .po files compiled afresh, so the check does not depend on stale .mo files."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        target = tmp_path / po.relative_to(TRANSLATIONS).with_suffix(".mo")
        target.parent.mkdir(parents=True)
        with open(target, "wb") as f:
            write_mo(f, _load(po))
    return tmp_path


@pytest.mark.parametrize(
    ("accept", "expected", "absent"),
    [("zh-CN,zh;q=0.9", "登录", "Sign in"), ("en", "Sign in", "登录")],
)
def test_login_page_speaks_the_browsers_language(db_url, compiled, accept, expected, absent):
    app = make_app(db_url, BABEL_TRANSLATION_DIRECTORIES=str(compiled))
    page = app.test_client().get("/login", headers={"Accept-Language": accept}).get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()
    assert expected in page
    assert absent not in page
