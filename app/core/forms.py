"""Forms every feature uses: a button that posts, a spreadsheet upload; choices from an enumeration."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectChoice, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from .i18n import _, _l


def choices(codes: Iterable[str], labels: Mapping[str, object]) -> list[SelectChoice]:
    """Return WTForms choices for ``codes`` (a model's enumeration), each shown with its label."""
    return [SelectChoice(code, labels[code]) for code in codes]


class MultiCheckboxField(SelectMultipleField):
    """Several choices at once, as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ActionForm(FlaskForm):
    """A form with only the CSRF token: buttons that POST."""


def confirmed() -> bool:
    """Whether the posted form answers an :func:`ask_first` page."""
    from flask import request

    return request.form.get("confirmed") == "1"


def ask_first(*, title, consequences, button, back: str, danger: bool = False, hidden=()):
    """A page that says what an action will do and asks: its button posts the same form again, ``hidden``
    fields (what was typed) kept and :func:`confirmed` true; ``back`` leaves without doing it."""
    from flask import render_template

    return render_template(
        "lms/core/confirm.html",
        form=ActionForm(),
        hidden=[*hidden, ("confirmed", "1")],
        title=title,
        consequences=consequences,
        button=button,
        back=back,
        danger=danger,
    )


class UploadForm(FlaskForm):
    """One spreadsheet to import."""

    file = FileField(_l("Spreadsheet (CSV or XLSX)"), validators=[FileRequired()])


def check_also(form, check: Callable[[], object], aliases: Mapping[str, str] | None = None) -> None:
    """After a form refused what was posted: run the service's own checks on what the form could read (``check``
    writes nothing) and mark the fields they find wrong that the form left unmarked. Every problem is named
    at once, not the form's first and the service's on the next try."""
    from .domain import DomainError

    try:
        check()
    except DomainError as exc:
        for name, message in exc.errors.items():
            field = getattr(form, (aliases or {}).get(name, name), None)
            if field is not None and not field.errors:
                field.errors = [str(message)]


def show_refusal(error, form=None, aliases: Mapping[str, str] | None = None) -> None:
    """Show a service's refusal (a DomainError): on the form's fields it names, the rest in a flash message.

    ``aliases`` maps a service's field name to the form's (``validity_months`` → ``validity_years``).
    """
    from flask import flash

    unmarked = []  # messages about fields the page cannot mark: they go into the flash
    for name, message in error.errors.items():
        field = getattr(form, (aliases or {}).get(name, name), None) if form is not None else None
        if field is not None:
            field.errors = [*field.errors, str(message)]
        else:
            unmarked.append(str(message))
    if not error.errors:
        flash(str(error.message), "error")
    elif unmarked:
        flash(" ".join(unmarked), "error")
    else:
        flash(_("Please correct the marked fields."), "error")
