"""A page translates with the catalogue of its own language, found once per page (app.core.i18n.page_gettext)."""

from __future__ import annotations

import pytest
from flask import render_template_string
from flask_babel import force_locale

from shegong_academy.core.i18n import use_academy_domain

STRINGS = (
    '{{ _("Welcome, %(name)s", name=who) }}|'
    '{{ ngettext("Notifications, %(num)d unread", "Notifications, %(num)d unread", count) }}'
)


@pytest.mark.one_database
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Welcome, &lt;b&gt;李&lt;/b&gt;|Notifications, 3 unread"),
        ("zh_CN", "欢迎您，&lt;b&gt;李&lt;/b&gt;|通知，3 条未读"),
    ],
)
def test_an_academy_page_translates_in_its_language_and_escapes_what_it_fills_in(app, language, expected):
    with app.test_request_context("/login"):
        use_academy_domain()
        with force_locale(language):  # the language at render time, not the request's first
            assert render_template_string(STRINGS, who="<b>李</b>", count=3) == expected


@pytest.mark.one_database
def test_an_academy_page_finds_its_catalogue_once_not_through_the_globals(app):
    globals_ = app.jinja_env.globals
    with app.test_request_context("/login"):
        use_academy_domain()
        page = render_template_string(
            "{{ gettext != g1 }} {{ ngettext != g2 }}", g1=globals_["gettext"], g2=globals_["ngettext"]
        )
    assert page == "True True"


@pytest.mark.one_database
def test_underscore_is_the_pages_own_gettext_and_a_block_with_its_own_variables_translates_alike(app):
    """``_`` is the page's bound ``gettext``, not the extension's alias that looked it up through the context
    again; and inside a block that sets a variable (where Jinja copies the whole context for each call of a
    function that asks for it) a call translates and escapes as anywhere else."""
    with app.test_request_context("/login"), force_locale("zh_CN"):
        use_academy_domain()
        assert render_template_string("{{ _ == gettext and _ != g }}", g=app.jinja_env.globals["_"]) == "True"
        page = render_template_string(
            '{% set who %}<b>{{ name }}</b>{% endset %}{{ who }}|{{ _("Welcome, %(name)s", name=name) }}',
            name="<i>李</i>",
        )
    assert page == "<b>&lt;i&gt;李&lt;/i&gt;</b>|欢迎您，&lt;i&gt;李&lt;/i&gt;"


@pytest.mark.one_database
def test_a_percent_sign_is_written_as_two_as_in_jinja(app):
    # Jinja's new-style rule, kept: the translation is always a format string.
    with app.test_request_context("/login"), force_locale("en"):
        use_academy_domain()
        assert render_template_string('{{ _("100%% of %(n)d", n=5) }}') == "100% of 5"
        with pytest.raises(ValueError):
            render_template_string('{{ _("at 100%") }}')
