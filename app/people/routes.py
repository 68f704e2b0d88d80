"""People pages: list with filters, detail with history, edit, import."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from ..audit.queries import entry_names
from ..auth.current import current_user, permission_required
from ..auth.permissions import ADMINISTER, MANAGE, roles_for
from ..core.access import found
from ..core.exports import FORMATS as EXPORT_FORMATS
from ..core.exports import download
from ..core.forms import UploadForm
from ..core.i18n import _
from ..core.routing import id_arg, page_arg
from ..core.uow import attempt
from ..credentials.services import verification_status
from ..jobs.imports import import_page
from ..ledger.ce import ce_account
from ..org.queries import ancestors_of, scope_roots, unit_for, visible_units
from ..supervision.services import assign_supervisor, today
from . import queries, services
from .exports import EXPORT_LIMIT, file_names, people_table
from .forms import PERSON_FIELDS, PersonForm, SupervisorForm
from .imports import import_people
from .models import CATEGORIES, LEVELS
from .record import person_record

bp = Blueprint("people", __name__, url_prefix="/people")
MANAGERS = roles_for(MANAGE)


def _list_filters() -> tuple[dict, str]:
    """The people list's filters (people_query's arguments) and status from the query string."""
    args = request.args
    unit = None
    if args.get("unit", type=id_arg):
        unit = found(unit_for(current_user, args.get("unit", type=id_arg), MANAGERS))
    status = args.get("status", "active")
    filters = {
        "unit": unit,
        "category": args.get("category") if args.get("category") in CATEGORIES else None,
        "level": args.get("level") if args.get("level") in LEVELS else None,
        "q": (args.get("q") or "").strip()[:64] or None,
        "active": {"active": True, "inactive": False}.get(status),
    }
    return filters, status


@bp.get("/")
@permission_required(MANAGE)
def index():
    filters, status = _list_filters()
    page = queries.people_page(
        current_user,
        page=request.args.get("page", 1, type=page_arg),
        per_page=current_app.config["LMS_PER_PAGE"],
        **filters,
    )
    return render_template(
        "lms/people/index.html",
        page=page,
        units=queries.filter_units(current_user),
        unit=filters["unit"],
        category=filters["category"],
        level=filters["level"],
        q=filters["q"] or "",
        status=status,
    )


@bp.get("/search")
@permission_required(MANAGE)
def search():
    """People of the viewer's units by name, phone or the ID number's last digits (JSON, one page)."""
    found, more = queries.search_people(
        current_user, request.args.get("q") or "", page=request.args.get("page", 1, type=page_arg) or 1
    )
    return {
        "items": [
            {
                "id": p.id,
                "name": p.name,
                "unit": p.unit.name,
                "id_number": p.id_number_masked,
                "phone": queries.masked_phone(p.phone),
                "active": p.active,
            }
            for p in found
        ],
        "more": more,
    }


@bp.get("/export.<fmt>")
@permission_required(MANAGE)
def export(fmt: str):
    if fmt not in EXPORT_FORMATS:
        abort(404)
    filters, _status = _list_filters()
    people = queries.people_list(current_user, limit=EXPORT_LIMIT + 1, **filters)
    if len(people) > EXPORT_LIMIT:
        flash(_("An export holds at most %(limit)s people: narrow the filters.", limit=f"{EXPORT_LIMIT:,}"), "error")
        kept = {k: request.args[k] for k in ("unit", "category", "level", "q", "status") if request.args.get(k)}
        return redirect(url_for("people.index", **kept))
    roots = scope_roots(current_user, MANAGERS)  # named after the unit asked for, else the viewer's one unit
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
        "accounts": queries.accounts_of(person),
        "history": (history := queries.person_history(person)),
        "names": entry_names(current_user, history),
        "ce": ce_account(person, today()),
        "supervisor_form": SupervisorForm(),
        "years": person_record(person, today().year),
        "status_of": verification_status,
    }


@bp.route("/<id:person_id>/edit", methods=["GET", "POST"])
@permission_required(MANAGE)
def edit(person_id: int):
    person = found(queries.person_for(current_user, person_id))
    form = PersonForm(obj=person)
    units = {u.id: u for u in visible_units(current_user, MANAGERS)}
    form.unit_id.choices = [SelectChoice(u.id, "　" * u.depth + u.name) for u in units.values()]
    if form.validate_on_submit():
        data = {name: getattr(form, name).data for name in PERSON_FIELDS}
        with attempt() as outcome:
            services.update_person(
                person=person, data=data, unit=units[form.unit_id.data], actor=current_user, ip=request.remote_addr
            )
        if outcome.ok:
            flash(_("Saved."), "success")
            return redirect(url_for("people.detail", person_id=person.id))
        for field, message in outcome.error.errors.items():
            getattr(form, "unit_id" if field == "unit" else field).errors.append(str(message))
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
    form = UploadForm()
    errors = None
    if form.validate_on_submit():
        answer, errors = import_page(
            form,
            import_people,
            kind="people.import",
            actor=current_user,
            done=url_for("people.index"),
            said=lambda count: _("Imported %(count)d people.", count=count),
        )
        if answer is not None:
            return answer
    return render_template("lms/people/import.html", form=form, errors=errors)


@bp.post("/<id:person_id>/supervisor")
@permission_required(MANAGE)
def make_supervisor(person_id: int):
    """Give the person the supervisor assignment (creating their account if they have none)."""
    person = found(queries.person_for(current_user, person_id))
    form = SupervisorForm()
    if not form.validate_on_submit():
        flash(_("Please give a username and a password of at least 10 characters."), "error")
        return redirect(url_for("people.detail", person_id=person.id))
    with attempt() as outcome:
        unit = assign_supervisor(
            person=person, actor=current_user, username=form.username.data, password=form.password.data
        )
    if outcome.ok:
        flash(
            _("%(name)s now holds the supervisor assignment for %(unit)s.", name=person.name, unit=unit.name), "success"
        )
    else:
        flash(str(outcome.error.message), "error")
    return redirect(url_for("people.detail", person_id=person.id))
