"""The unit tree a user may see, with head counts; unit import for administrators."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from ..auth.current import current_user, permission_required
from ..auth.permissions import ADMINISTER, MANAGE, roles_for
from ..core.access import found
from ..core.forms import ActionForm, UploadForm, show_refusal
from ..core.i18n import _
from ..core.routing import id_arg
from ..core.uow import attempt
from ..jobs.imports import import_page
from ..people.queries import head_count, head_counts
from . import services
from .forms import MoveForm, RenameForm, UnitForm
from .imports import import_units
from .labels import KIND_LABELS
from .models import UNIT_KINDS, OrgUnit
from .queries import ancestors_of, children_of, tree_roots, unit_for, visible_units

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
        action_form=ActionForm(),
        can_add=bool(_parent_choices()),
        own_root=services.is_scope_root(current_user, unit),  # moved or closed by an administrator only
    )


@bp.route("/import", methods=["GET", "POST"])
@permission_required(ADMINISTER)
def import_file():
    form = UploadForm()
    errors = None
    if form.validate_on_submit():
        answer, errors = import_page(
            form,
            import_units,
            kind="org.import",
            actor=current_user,
            done=url_for("org.index"),
            said=lambda result: _(
                "Units created: %(created)d, renamed: %(updated)d.", created=result[0], updated=result[1]
            ),
        )
        if answer is not None:
            return answer
    return render_template("lms/org/import.html", form=form, errors=errors)


# ---------------------------------------------------------------- managing units


def _parent_choices(kind: str | None = None, exclude: OrgUnit | None = None) -> list[SelectChoice]:
    units = visible_units(current_user, MANAGERS)
    if kind is not None:
        allowed = services.PARENT_KINDS[kind]
        units = [u for u in units if u.kind in allowed]
    if exclude is not None:
        units = [u for u in units if not u.is_within(exclude)]
    return [SelectChoice(u.id, "　" * u.depth + u.name) for u in units if u.closed_at is None]


@bp.route("/new", methods=["GET", "POST"])
@permission_required(MANAGE)
def new():
    form = UnitForm()
    form.kind.choices = [SelectChoice(k, KIND_LABELS[k]) for k in UNIT_KINDS]
    form.parent_id.choices = _parent_choices()
    if request.method == "GET" and request.args.get("parent", type=id_arg):
        form.parent_id.data = request.args.get("parent", type=id_arg)
        parent = unit_for(current_user, form.parent_id.data, MANAGERS)
        # the first kind that may sit there (a community under a street), not the province the list starts with
        form.kind.data = next((k for k in UNIT_KINDS if parent and parent.kind in services.PARENT_KINDS[k]), None)
    if form.validate_on_submit():
        parent = found(unit_for(current_user, form.parent_id.data, MANAGERS))
        with attempt() as outcome:
            unit = services.add_unit(
                name=form.name.data, kind=form.kind.data, parent=parent, code=form.code.data, actor=current_user
            )
        if outcome.ok:
            flash(_("Unit %(name)s added.", name=unit.name), "success")
            return redirect(url_for("org.detail", unit_id=unit.id))
        show_refusal(outcome.error, form)
    return render_template("lms/org/form.html", form=form, unit=None)


@bp.route("/<id:unit_id>/edit", methods=["GET", "POST"])
@permission_required(MANAGE)
def edit(unit_id: int):
    unit = found(unit_for(current_user, unit_id, MANAGERS))
    form = RenameForm(obj=unit)
    if request.method == "GET" and unit.code_generated:
        form.code.data = ""
    if form.validate_on_submit():
        with attempt() as outcome:
            services.rename_unit(unit=unit, name=form.name.data, code=form.code.data, actor=current_user)
        if outcome.ok:
            flash(_("Saved."), "success")
            return redirect(url_for("org.detail", unit_id=unit.id))
        show_refusal(outcome.error, form)
    return render_template("lms/org/form.html", form=form, unit=unit)


@bp.route("/<id:unit_id>/move", methods=["GET", "POST"])
@permission_required(MANAGE)
def move(unit_id: int):
    unit = found(unit_for(current_user, unit_id, MANAGERS))
    form = MoveForm()
    form.parent_id.choices = _parent_choices(unit.kind, exclude=unit)
    if form.validate_on_submit():
        parent = found(unit_for(current_user, form.parent_id.data, MANAGERS))
        with attempt() as outcome:
            services.move_unit(unit=unit, parent=parent, actor=current_user)
        if outcome.ok:
            flash(_("%(name)s now sits under %(parent)s.", name=unit.name, parent=parent.name), "success")
            return redirect(url_for("org.detail", unit_id=unit.id))
        show_refusal(outcome.error, form)
    return render_template("lms/org/move.html", form=form, unit=unit, total=head_count(unit))


@bp.post("/<id:unit_id>/<any(close, reopen):verb>")
@permission_required(MANAGE)
def close(unit_id: int, verb: str):
    unit = found(unit_for(current_user, unit_id, MANAGERS))
    if ActionForm().validate_on_submit():
        with attempt() as outcome:
            services.set_unit_closed(unit=unit, closed=verb == "close", actor=current_user)
        if outcome.ok:
            flash(_("The unit is closed.") if verb == "close" else _("The unit is open again."), "success")
        else:
            flash(str(outcome.error.message), "error")
    return redirect(url_for("org.detail", unit_id=unit.id))
