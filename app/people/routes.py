"""People pages: list with filters, detail with history, edit, import."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from wtforms import SelectChoice

from ..auth.current import current_user, permission_required
from ..auth.models import User
from ..auth.permissions import ADMINISTER, MANAGE
from ..core.access import found
from ..core.exports import FORMATS as EXPORT_FORMATS
from ..core.exports import download
from ..core.forms import UploadForm as ImportForm
from ..core.i18n import _
from ..core.routing import id_arg, page_arg
from ..core.uow import rollback
from ..core.uploads import run_upload_import
from ..extensions import db
from ..ledger.ce import ce_account
from ..org.models import OrgUnit
from ..org.queries import ancestors_of, scope_roots, unit_in_scope, visible_units
from ..supervision.services import today
from . import queries, services
from .exports import EXPORT_LIMIT, file_names, people_table
from .forms import PersonForm, SupervisorForm
from .imports import import_people
from .labels import CATEGORY_LABELS, LEVEL_LABELS

bp = Blueprint("people", __name__, url_prefix="/people")

STAFF = ("admin", "coordinator")
# Units offered in the filter: down to streets and service stations; deeper
# units are reached from a person's page or by ?unit=.
FILTER_KINDS = ("province", "city", "district", "street", "centre", "station")


def _filter_units() -> list[OrgUnit]:
    stmt = visible_units(current_user).where(OrgUnit.kind.in_(FILTER_KINDS))
    return list(db.session.scalars(stmt))


def _list_filters() -> tuple[dict, str]:
    """The people list's filters (people_query's arguments) and status from the query string."""
    args = request.args
    unit = None
    if args.get("unit", type=id_arg):
        unit = found(db.session.get(OrgUnit, args.get("unit", type=id_arg)))
        if not unit_in_scope(current_user, unit):
            abort(404)
    status = args.get("status", "active")
    filters = {
        "unit": unit,
        "category": args.get("category") if args.get("category") in CATEGORY_LABELS else None,
        "level": args.get("level") if args.get("level") in LEVEL_LABELS else None,
        "q": (args.get("q") or "").strip()[:64] or None,
        "active": {"active": True, "inactive": False}.get(status),
    }
    return filters, status


@bp.get("/")
@permission_required(MANAGE)
def index():
    args = request.args
    filters, status = _list_filters()
    unit, category, level, q = filters["unit"], filters["category"], filters["level"], filters["q"]
    stmt = queries.people_query(current_user, **filters)
    page = db.paginate(
        stmt,
        page=args.get("page", 1, type=page_arg),
        per_page=current_app.config["LMS_PER_PAGE"],
        max_per_page=100,
        error_out=False,
    )
    return render_template(
        "lms/people/index.html",
        page=page,
        units=_filter_units(),
        unit=unit,
        category=category,
        level=level,
        q=q or "",
        status=status,
    )


@bp.get("/export.<fmt>")
@permission_required(MANAGE)
def export(fmt: str):
    if fmt not in EXPORT_FORMATS:
        abort(404)
    filters, _status = _list_filters()
    people = db.session.scalars(queries.people_query(current_user, **filters).limit(EXPORT_LIMIT + 1)).all()
    if len(people) > EXPORT_LIMIT:
        flash(_("An export holds at most %(limit)s people: narrow the filters.", limit=f"{EXPORT_LIMIT:,}"), "error")
        kept = {k: request.args[k] for k in ("unit", "category", "level", "q", "status") if request.args.get(k)}
        return redirect(url_for("people.index", **kept))
    roots = scope_roots(current_user)  # named after the unit asked for, else the viewer's one unit
    unit = filters["unit"] or (roots[0] if roots and len(roots) == 1 else None)
    return download(people_table(people), fmt, **file_names(unit, today()))


@bp.get("/<id:person_id>")
@permission_required(MANAGE)
def detail(person_id: int):
    person = found(queries.person_for(current_user, person_id))
    return render_template("lms/people/detail.html", **_detail_context(person))


def _detail_context(person) -> dict:
    return {
        "person": person,
        "unit_path": ancestors_of(person.unit),
        "accounts": db.session.scalars(select(User).where(User.person_id == person.id)).all(),
        "history": queries.person_history(person),
        "ce": ce_account(person, today()),
        "supervisor_form": SupervisorForm(),
    }


@bp.route("/<id:person_id>/edit", methods=["GET", "POST"])
@permission_required(MANAGE)
def edit(person_id: int):
    person = found(queries.person_for(current_user, person_id))
    form = PersonForm(obj=person)
    form.unit_id.choices = [
        SelectChoice(u.id, "　" * u.depth + u.name) for u in db.session.scalars(visible_units(current_user))
    ]
    if form.validate_on_submit():
        unit = db.session.get(OrgUnit, form.unit_id.data)
        data = {
            k: getattr(form, k).data
            for k in (
                "name",
                "phone",
                "id_number",
                "category",
                "level",
                "certified_on",
                "titles",
                "service_areas",
                "active",
            )
        }
        try:
            services.update_person(person=person, data=data, unit=unit, actor=current_user, ip=request.remote_addr)
        except services.PersonError as exc:
            rollback()
            for field, message in exc.errors.items():
                getattr(form, "unit_id" if field == "unit" else field).errors.append(str(message))
        else:
            flash(_("Saved."), "success")
            return redirect(url_for("people.detail", person_id=person.id))
    if request.method == "GET":
        form.id_number.data = ""
    return render_template("lms/people/edit.html", form=form, person=person)


@bp.post("/<id:person_id>/id-number")
@permission_required(ADMINISTER)
def reveal(person_id: int):
    person = found(queries.person_for(current_user, person_id))
    id_number = services.reveal_id_number(person=person, actor=current_user, ip=request.remote_addr)
    response = current_app.make_response(
        render_template("lms/people/detail.html", **_detail_context(person), revealed_id=id_number)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/import", methods=["GET", "POST"])
@permission_required(MANAGE)
def import_file():
    form = ImportForm()
    errors = None
    if form.validate_on_submit():
        count, errors = run_upload_import(form, import_people, actor=current_user)
        if count is not None:
            flash(_("Imported %(count)d people.", count=count), "success")
            return redirect(url_for("people.index"))
    return render_template("lms/people/import.html", form=form, errors=errors)


def _assignment_unit(person) -> OrgUnit:
    """The unit a supervisor assignment covers: the viewer's own unit above the person, or the person's district."""
    from ..org.queries import scope_roots

    roots = scope_roots(current_user) or []
    for root in roots:
        if person.unit.is_within(root):
            return root
    for unit in reversed(ancestors_of(person.unit)):
        if unit.kind == "district":
            return unit
    return person.unit


@bp.post("/<id:person_id>/supervisor")
@permission_required(MANAGE)
def make_supervisor(person_id: int):
    """Give the person the supervisor assignment (creating their account if they have none)."""
    from ..auth.services import AuthError, create_user, grant_role

    person = found(queries.person_for(current_user, person_id))
    form = SupervisorForm()
    if not form.validate_on_submit():
        flash(_("Please give a username and a password of at least 10 characters."), "error")
        return redirect(url_for("people.detail", person_id=person.id))
    unit = _assignment_unit(person)
    account = db.session.scalar(select(User).where(User.person_id == person.id))
    try:
        if account is None:
            if not form.username.data or not form.password.data:
                raise AuthError("missing")
            create_user(
                username=form.username.data.strip(),
                password=form.password.data,
                role="supervisor",
                unit=unit,
                person=person,
                actor=current_user,
            )
        else:
            grant_role(user=account, role="supervisor", unit=unit, actor=current_user)
    except AuthError as exc:
        rollback()
        message = {
            "password_too_short": _("The password needs at least 10 characters."),
            "missing": _("Please give a username and a password of at least 10 characters."),
        }
        flash(message.get(str(exc), str(exc)), "error")
    else:
        flash(
            _("%(name)s now holds the supervisor assignment for %(unit)s.", name=person.name, unit=unit.name), "success"
        )
    return redirect(url_for("people.detail", person_id=person.id))
