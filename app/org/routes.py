"""The unit tree a user may see, with head counts; unit import for administrators."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from ..auth.current import current_user, permission_required
from ..auth.permissions import ADMINISTER, MANAGE, roles_for
from ..core.access import found
from ..core.forms import UploadForm
from ..core.i18n import _
from ..jobs.imports import import_upload
from ..people.queries import head_count, head_counts
from .imports import import_units
from .queries import ancestors_of, children_of, tree_roots, unit_for

bp = Blueprint("org", __name__, url_prefix="/units")
MANAGERS = roles_for(MANAGE)


@bp.get("/")
@permission_required(MANAGE)
def index():
    roots = tree_roots(current_user, MANAGERS)
    return render_template("lms/org/index.html", units=roots, counts=head_counts(roots))


@bp.get("/<id:unit_id>")
@permission_required(MANAGE)
def detail(unit_id: int):
    unit = found(unit_for(current_user, unit_id, MANAGERS))
    children = children_of(unit)
    return render_template(
        "lms/org/detail.html",
        unit=unit,
        path=ancestors_of(unit),
        children=children,
        counts=head_counts([unit, *children]),
        total=head_count(unit),
    )


@bp.route("/import", methods=["GET", "POST"])
@permission_required(ADMINISTER)
def import_file():
    form = UploadForm()
    errors = None
    if form.validate_on_submit():
        result, errors, job = import_upload(form, import_units, kind="org.import", actor=current_user)
        if job is not None:
            return redirect(url_for("jobs.job", job_id=job.id))
        if result is not None:
            created, updated = result
            flash(_("Units created: %(created)d, renamed: %(updated)d.", created=created, updated=updated), "success")
            return redirect(url_for("org.index"))
    return render_template("lms/org/import.html", form=form, errors=errors)
