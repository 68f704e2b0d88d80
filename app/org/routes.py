"""The unit tree a user may see, with head counts; unit import for administrators."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import func, select

from ..auth.current import current_user, permission_required
from ..auth.permissions import ADMINISTER, MANAGE
from ..core.access import found
from ..core.forms import UploadForm as ImportForm
from ..core.i18n import _
from ..core.uploads import run_upload_import
from ..extensions import db
from ..people.models import Person
from .imports import import_units
from .models import OrgUnit
from .queries import ancestors_of, children_of, in_scope, scope_roots, subtree_ids

bp = Blueprint("org", __name__, url_prefix="/units")


def _head_counts(units: list[OrgUnit]) -> dict[int, int]:
    """Count active people in each unit's subtree, in one query."""
    if not units:
        return {}
    sub = OrgUnit.__table__.alias("sub")
    top = OrgUnit.__table__.alias("top")
    stmt = (
        select(top.c.id, func.count(Person.id))
        .select_from(top)
        .join(sub, sub.c.path.startswith(top.c.path))
        .join(Person, (Person.unit_id == sub.c.id) & Person.active.is_(True))
        .where(top.c.id.in_([u.id for u in units]))
        .group_by(top.c.id)
    )
    return dict(db.session.execute(stmt).all())


@bp.get("/")
@permission_required(MANAGE)
def index():
    roots = scope_roots(current_user)
    if roots is None:
        roots = list(db.session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.code)))
    return render_template("lms/org/index.html", units=roots, counts=_head_counts(roots))


@bp.get("/<id:unit_id>")
@permission_required(MANAGE)
def detail(unit_id: int):
    unit = found(db.session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id, in_scope(current_user, OrgUnit.id))))
    children = children_of(unit)
    counts = _head_counts([unit, *children])
    direct = db.session.scalar(
        select(func.count(Person.id)).where(Person.unit_id.in_(subtree_ids(unit)), Person.active.is_(True))
    )
    return render_template(
        "lms/org/detail.html",
        unit=unit,
        path=ancestors_of(unit),
        children=children,
        counts=counts,
        total=direct,
    )


@bp.route("/import", methods=["GET", "POST"])
@permission_required(ADMINISTER)
def import_file():
    form = ImportForm()
    errors = None
    if form.validate_on_submit():
        result, errors = run_upload_import(form, import_units, actor=current_user)
        if result is not None:
            created, updated = result
            flash(_("Units created: %(created)d, renamed: %(updated)d.", created=created, updated=updated), "success")
            return redirect(url_for("org.index"))
    return render_template("lms/org/import.html", form=form, errors=errors)
