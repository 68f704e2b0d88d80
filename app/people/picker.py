"""The person picker: a form field that takes a person by search, with or without script.

With script, the page asks :func:`app.people.routes.search` as one types and puts the chosen
person's id in the hidden field. Without script, the typed text arrives as ``<field>-q`` and is
looked up here: one match is that person; none or several re-render the form saying so.
"""

from __future__ import annotations

from flask import request

from ..core.i18n import _
from .models import Person
from .queries import person_for, search_people


def picked_person(viewer, field) -> Person | None:
    """The person a picker field names (its id, else its typed text), or None with the field's error set."""
    if field.data:
        person = person_for(viewer, field.data)
        if person is None:
            field.errors = [*field.errors, _("Unknown person.")]
        return person
    typed = (request.form.get(f"{field.name}-q") or "").strip()
    if not typed:
        return None
    found, more = search_people(viewer, typed, per_page=2)
    if len(found) == 1 and not more:
        return found[0]
    field.errors = [
        *field.errors,
        _("Nobody matches %(q)s.", q=typed)
        if not found
        else _("Several people match %(q)s: add the last digits of the ID number.", q=typed),
    ]
    return None
