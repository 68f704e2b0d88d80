"""Languages: Simplified Chinese and English, from the user, the session or Accept-Language.

The academy translates with its own Babel domain (its catalogues, whatever
the host application's are): code calls :func:`_`, :func:`_l` and
:func:`ngettext` from here, and templates rendered for the academy's own
requests use the domain too (:func:`use_academy_domain`). The locale is the
academy's choice on its own routes and the host's everywhere else.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import Babel, Domain, get_locale
from jinja2 import pass_eval_context
from markupsafe import Markup

from . import paths

SUPPORTED = ("zh_CN", "en")
SESSION_LANGUAGE = "lang"


class _Domain(Domain):
    """Flask-Babel's domain, finding a locale's catalogue by the locale itself.

    A page translates a hundred strings or more, and Flask-Babel's own lookup spells the locale out and
    reaches into ``g`` twice for each; this one asks for the request's locale (``force_locale`` included)
    and finds the catalogue in a dictionary.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._catalogues: dict = {}

    def get_translations(self):
        locale = get_locale()
        if locale is None:  # no application context: Flask-Babel's null catalogue
            return super().get_translations()
        try:
            return self._catalogues[locale]
        except KeyError:
            self._catalogues[locale] = found = super().get_translations()
            return found


domain = _Domain(translation_directories=[str(paths.translations())], domain="messages")
_ = gettext = domain.gettext
_l = lazy_gettext = domain.lazy_gettext
ngettext = domain.ngettext


def page_gettext() -> dict:
    """``_``, ``gettext`` and ``ngettext`` for one page, bound to the catalogue of its language.

    Jinja's i18n extension looks ``_``, ``gettext`` and ``ngettext`` up in the page's context before the
    environment's globals. Flask-Babel's globals find the request's domain, locale and catalogue again on
    every call, a hundred calls a page; these find the catalogue once, when the page is rendered (so
    ``force_locale`` around a render is honoured). The rules are Jinja's new-style ones: the translation is
    marked safe when the page escapes, then formatted with the call's keywords (which are escaped), and
    ``ngettext`` passes its count as ``num``.

    They take the evaluation context, not the template's context: Jinja copies the whole context for each
    call of a function that takes it from inside a block that sets a variable. And ``_`` is the page's
    ``gettext`` itself rather than the extension's alias, which looked ``gettext`` up and called it through
    the context a second time.
    """
    translations = domain.get_translations()
    singular, plural = translations.ugettext, translations.ungettext

    @pass_eval_context
    def page_gettext(eval_ctx, string: str, **variables):
        text = singular(string)
        return (Markup(text) if eval_ctx.autoescape else text) % variables  # noqa: S704 - our catalogue

    @pass_eval_context
    def page_ngettext(eval_ctx, string: str, strings: str, num: int, **variables):
        variables.setdefault("num", num)
        text = plural(string, strings, num)
        return (Markup(text) if eval_ctx.autoescape else text) % variables  # noqa: S704 - our catalogue

    return {"_": page_gettext, "gettext": page_gettext, "ngettext": page_ngettext}


def use_academy_domain() -> None:
    """Make templates rendered for this request translate with the academy's catalogues."""
    domain.as_default()


def select_locale() -> str:
    """Pick the user's remembered language, then the page switch, then the browser's."""
    if not has_request_context():  # command line, jobs
        return current_app.config["LMS_DEFAULT_LANGUAGE"]
    if _is_api_request():
        # API clients ask with Accept-Language; without it they get English, the API's stable default.
        return _from_accept_language() or "en"
    user_locale = getattr(g.get("lms_user"), "locale", None)
    if user_locale in SUPPORTED:
        return user_locale
    if session.get(SESSION_LANGUAGE) in SUPPORTED:
        return session[SESSION_LANGUAGE]
    return _from_accept_language() or current_app.config["LMS_DEFAULT_LANGUAGE"]


def _from_accept_language() -> str | None:
    """The first language of Accept-Language, by quality, that the academy speaks: ``en-US, zh;q=0.1`` is
    English (werkzeug's best_match would take the exact ``zh`` over ``en-US``)."""
    for value, quality in request.accept_languages:  # highest quality first
        primary = value.replace("_", "-").split("-")[0].lower()
        if quality > 0 and primary == "zh":
            return "zh_CN"
        if quality > 0 and primary == "en":
            return "en"
    return None


def _is_api_request() -> bool:
    from .errors import is_api_request

    return is_api_request()


def init_app(app: Flask, is_academy_request: Callable[[], bool]) -> None:
    """Choose the locale on the academy's requests; keep the host's choice (or its default) elsewhere."""
    if "babel" not in app.extensions:
        # Standalone, or a host without Flask-Babel: the academy brings it, for its own routes and commands.
        Babel(app)
        _put_academy_first(app, is_academy_request, commands_too=True)
    else:
        _put_academy_first(app, is_academy_request, commands_too=False)

    def keep_academy_first():
        # A host that sets up Flask-Babel after mounting the academy replaces its configuration, selector and all.
        _put_academy_first(app, is_academy_request, commands_too=False)

    app.before_request_funcs.setdefault(None, []).insert(0, keep_academy_first)  # before any page is rendered


def _put_academy_first(app: Flask, is_academy_request: Callable[[], bool], *, commands_too: bool) -> None:
    """Make Flask-Babel ask the academy first on its routes, then whatever selector was there before."""
    babel = app.extensions["babel"]
    host_selector = babel.locale_selector
    if getattr(host_selector, "lms_academy", False):
        return

    def selector():
        if has_request_context() and is_academy_request() or commands_too and not has_request_context():
            return select_locale()
        return host_selector() if host_selector else None

    selector.lms_academy = True
    babel.locale_selector = selector
