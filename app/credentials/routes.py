"""Credential pages: list, eligibility and approval, issued certificates, revoke/reissue, bulk print, verification."""

from __future__ import annotations

import io
import time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from ..auth.current import current_user, login_required, permission_required
from ..auth.permissions import MANAGE, can
from ..core.access import found
from ..core.forms import ActionForm, ask_first, confirmed, show_refusal
from ..core.i18n import _, ngettext
from ..core.ranges import FIRST_YEAR, LAST_YEAR
from ..core.routing import id_arg, page_arg
from ..core.storage import storage
from ..core.uow import attempt
from ..extensions import db, limiter
from ..jobs import queries as job_queries
from ..org.queries import unit_for, visible_units
from ..people.labels import CATEGORY_LABELS
from ..people.models import CATEGORIES
from ..training.labels import TIER_LABELS
from ..training.models import TIERS, Program
from ..training.queries import assessment_options, program_years, programs_for
from . import badges, queries, renewal, services, types
from .forms import CredentialTypeForm, RevokeBatchForm, VerifyPdfForm
from .jobs import start_issuing, start_printing
from .models import Certificate
from .render import available_designs, load_design

bp = Blueprint("credentials", __name__)
# Unknown and known codes take the same time to answer.
VERIFY_FLOOR_SECONDS = 0.05
# More people than this are issued by a job: the page answers at once and shows the job's progress.
INLINE_APPROVALS = 5
TYPE_FORM_FIELDS = tuple(f for f in types.FIELDS if f != "validity_months")  # the form asks for years


@bp.get("/credentials/")
@permission_required(MANAGE)
def index():
    credentials = queries.credentials_for(current_user)
    return render_template(
        "lms/credentials/index.html",
        credentials=credentials,
        counts=queries.issued_counts(current_user, [c.id for c in credentials]),
    )


@bp.get("/credentials/<id:credential_id>")
@permission_required(MANAGE)
def credential(credential_id: int):
    cred = found(queries.credential_for(current_user, credential_id))
    show = request.args.get("show", "eligible")
    if show not in ("eligible", "waiting", "issued", "renewal") or (show == "renewal" and not cred.validity_months):
        show = "eligible"
    q = (request.args.get("q") or "").strip()[:64]
    per_page = current_app.config["LMS_PER_PAGE"]
    page_number = request.args.get("page", 1, type=page_arg)
    if show in ("eligible", "waiting"):  # the tab's page and both counts from one evaluation of the rule
        page = queries.eligibility_page(
            cred, current_user, eligible=show == "eligible", page=page_number, per_page=per_page
        )
        counts = dict(page.counts)
    else:
        counts = queries.eligibility_counts(cred, current_user)
    counts["issued"] = queries.certificate_count(current_user, cred)
    counts["renewal"] = renewal.due_count(cred, current_user) if cred.validity_months else 0
    items = []
    if show == "renewal":  # due for renewal: expiring within the window, or expired; what each holder lacks
        stmt = renewal.due_certificates(cred, current_user).options(selectinload(Certificate.person))
        page = db.paginate(stmt, page=page_number, per_page=per_page, max_per_page=100, error_out=False)
        items = list(renewal.check_many(page.items).values())
    elif show == "issued":
        stmt = queries.certificates_for(current_user, cred, q or None).options(selectinload(Certificate.person))
        page = db.paginate(stmt, page=page_number, per_page=per_page, max_per_page=100, error_out=False)
        items = page.items
    elif page.items:  # hours and what is missing, for this page's people only
        items = services.eligibility(cred, None, people_ids=[p.id for p in page.items], any_category=True)
    return render_template(
        "lms/credentials/credential.html",
        credential=cred,
        items=items,
        page=page,
        counts=counts,
        show=show,
        q=q,
        form=ActionForm(),
        status_of=services.verification_status,
        renewal_days=renewal.window(cred).days,
    )


@bp.post("/credentials/<id:credential_id>/approve")
@permission_required(MANAGE)
def approve(credential_id: int):
    cred = found(queries.credential_for(current_user, credential_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    everyone = request.form.get("all") == "1"
    renew = request.form.get("renew") == "1"
    if everyone and renew:  # every holder due, not only the page shown (the ones who cannot yet are told why)
        ids = list(dict.fromkeys(c.person_id for c in db.session.scalars(renewal.due_certificates(cred, current_user))))
    elif everyone:
        ids = queries.eligible_ids(cred, current_user)  # everyone, not only the page shown
    else:
        ids = list(dict.fromkeys(request.form.getlist("person_id", type=id_arg)))
    if not ids:
        flash(_("Nobody was chosen."), "error")
        return redirect(url_for("credentials.credential", credential_id=cred.id))
    if not confirmed():
        return _confirm_approval(cred, ids, everyone, renew)
    if len(ids) > INLINE_APPROVALS:
        return redirect(url_for("jobs.job", job_id=start_issuing(cred, ids, current_user, renew=renew).id))
    summary = services.issue_to_people(credential=cred, person_ids=ids, actor=current_user, renew=renew)
    if summary.issued:
        flash(_("Issued %(n)d certificate(s).", n=summary.issued), "success")
    if summary.held:
        flash(_("%(n)d already held a valid certificate: none was issued to them again.", n=summary.held), "info")
    if summary.stopped:
        flash(_("Issuing stopped: %(reason)s", reason=str(summary.stopped)), "error")
    for message in summary.refused[:10]:
        flash(str(message), "error")
    return redirect(url_for("credentials.credential", credential_id=cred.id, show="issued"))


def _confirm_approval(cred, ids: list[int], everyone: bool, renew: bool = False):
    """Say what approving will do, and ask; the answer posts the same choice again, confirmed."""
    title = cred.title
    if renew:
        return _confirm_renewal(cred, ids, everyone)
    if cred.transition_to:
        what = ngettext(
            "%(num)d person will receive %(title)s and become %(category)s.",
            "%(num)d people will receive %(title)s and become %(category)s.",
            len(ids),
            title=title,
            category=CATEGORY_LABELS[cred.transition_to],
        )
    else:
        what = ngettext(
            "%(num)d person will receive %(title)s.", "%(num)d people will receive %(title)s.", len(ids), title=title
        )
    return ask_first(
        hidden=[("all", "1")] if everyone else [("person_id", i) for i in ids],
        title=_("Issue %(title)s?", title=title),
        consequences=[
            what,
            _("Each gets a serial number and a PDF certificate that anyone can verify."),
            _("A bulk approval can be undone afterwards from its progress page (the whole batch is revoked)."),
        ],
        button=_("Approve and issue"),
        back=url_for("credentials.credential", credential_id=cred.id),
    )


def _confirm_renewal(cred, ids: list[int], everyone: bool):
    return ask_first(
        hidden=[("renew", "1")] + ([("all", "1")] if everyone else [("person_id", i) for i in ids]),
        title=_("Renew %(title)s?", title=cred.title),
        consequences=[
            ngettext(
                "%(num)d holder's certificate will be renewed, if they meet the renewal rule.",
                "%(num)d holders' certificates will be renewed, if they meet the renewal rule.",
                len(ids),
            ),
            _(
                "Each gets a new certificate with a new serial number, valid for %(years)s from today.",
                years=_validity(cred),
            ),
            _("Their current certificate then verifies as superseded by the new one."),
        ],
        button=_("Renew"),
        back=url_for("credentials.credential", credential_id=cred.id, show="renewal"),
    )


def _validity(cred) -> str:
    months = cred.validity_months or 0
    if months % 12 == 0:
        return ngettext("%(num)d year", "%(num)d years", months // 12)
    return ngettext("%(num)d month", "%(num)d months", months)


@bp.route("/jobs/<id:job_id>/revoke", methods=["GET", "POST"])
@permission_required(MANAGE)
def revoke_batch(job_id: int):
    """Undo a bulk approval: revoke the whole batch it issued (asks first, with a reason)."""
    job = found(job_queries.job_for(current_user, job_id))
    if job.kind != "credentials.issue":
        abort(404)
    cred = found(queries.credential_for(current_user, job.params["credential_id"]))
    back = url_for("jobs.job", job_id=job.id)
    form = RevokeBatchForm()
    if form.validate_on_submit():
        with attempt() as outcome:
            count = services.revoke_batch(job_id=job.id, credential=cred, reason=form.reason.data, actor=current_user)
        if outcome.ok:
            flash(_("%(n)d certificates of this batch are revoked.", n=count), "success")
            return redirect(url_for("credentials.credential", credential_id=cred.id, show="issued"))
        if not outcome.error.errors:
            return render_template(
                "lms/core/confirm.html",
                form=None,
                title=_("This cannot be done"),
                consequences=[str(outcome.error.message)],
                back=back,
            ), 409
        form.reason.errors = [*form.reason.errors, str(next(iter(outcome.error.errors.values())))]
    batch = services.batch_certificates(job.id)
    consequences = [
        ngettext(
            "%(num)d certificate of %(title)s will be revoked; verifying it will say so.",
            "%(num)d certificates of %(title)s will be revoked; verifying them will say so.",
            len(batch),
            title=cred.title,
        )
    ]
    if cred.transition_to:
        consequences.append(
            _(
                "Their holders go back from %(to)s to %(from)s.",
                to=CATEGORY_LABELS[cred.transition_to],
                **{"from": CATEGORY_LABELS[cred.transition_from]},
            )
        )
    return render_template(
        "lms/core/confirm.html",
        form=form,
        fields=[form.reason],
        title=_("Revoke this batch?"),
        consequences=consequences,
        button=_("Revoke the batch"),
        back=back,
        danger=True,
    )


@bp.post("/credentials/<id:credential_id>/print")
@permission_required(MANAGE)
def print_all(credential_id: int):
    cred = found(queries.credential_for(current_user, credential_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    ids = queries.printable_ids(current_user, cred)
    if not ids:
        flash(_("No valid certificates to print."), "error")
        return redirect(url_for("credentials.credential", credential_id=cred.id, show="issued"))
    return redirect(url_for("jobs.job", job_id=start_printing(cred, ids, current_user).id))


@bp.get("/certificates/<id:certificate_id>")
@login_required
def certificate(certificate_id: int):
    cert = found(queries.certificate_for(current_user, certificate_id))
    return render_template(
        "lms/credentials/certificate.html",
        certificate=cert,
        identity_salt=badges.identity_salt(cert),
        status=services.verification_status(cert),
        form=ActionForm(),
        can_manage=_manages(cert),
    )


def _manages(cert: Certificate) -> bool:
    """Whether the viewer manages the certificate's credential type: its issuing unit is theirs. Only they
    revoke or reissue it, and only they reach the type's pages (a street's coordinator sees the certificates of
    the street's people, not the district's type)."""
    return can(current_user, MANAGE) and queries.credential_for(current_user, cert.credential_id) is not None


def _managed_certificate(certificate_id: int) -> Certificate:
    cert = found(queries.certificate_for(current_user, certificate_id))
    if not _manages(cert):
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    return cert


@bp.get("/certificates/<id:certificate_id>.pdf")
@login_required
def certificate_pdf(certificate_id: int):
    cert = found(queries.certificate_for(current_user, certificate_id))
    pdf = services.certificate_pdf(cert)  # rendered once, then served from the store
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", download_name=f"{cert.serial}.pdf")


@bp.get("/certificates/<id:certificate_id>/archival.pdf")
@login_required
def certificate_archival(certificate_id: int):
    """The archival copy: PDF/A-3b with the signed Open Badges credential inside, signed like the PDF."""
    cert = found(queries.certificate_for(current_user, certificate_id))
    pdf = services.archival_pdf(cert)  # rendered once, then served from the store
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", download_name=f"{cert.serial}-archival.pdf")


@bp.get("/certificates/<id:certificate_id>/badge.json")
@login_required
def certificate_badge(certificate_id: int):
    """The signed Open Badges 3.0 credential, to keep or to add to a wallet (JSON with its proof)."""
    cert = found(queries.certificate_for(current_user, certificate_id))
    response = jsonify(badges.signed_badge(cert))
    response.headers["Content-Disposition"] = f"attachment; filename={cert.serial}.json"
    return response


@bp.get("/certificates/<id:certificate_id>/badge.jwt")
@login_required
def certificate_badge_jwt(certificate_id: int):
    """The same credential as a VC-JWT, the form most wallets import."""
    cert = found(queries.certificate_for(current_user, certificate_id))
    response = current_app.response_class(badges.badge_jwt(cert), mimetype="application/vc+jwt")
    response.headers["Content-Disposition"] = f"attachment; filename={cert.serial}.jwt"
    return response


@bp.post("/certificates/<id:certificate_id>/revoke")
@permission_required(MANAGE)
def revoke(certificate_id: int):
    """Revoke one certificate, with a reason; asks first, saying what verifying it will answer."""
    cert = _managed_certificate(certificate_id)
    reason = request.form.get("reason", "").strip()
    back = url_for("credentials.certificate", certificate_id=cert.id)
    if reason and not confirmed() and cert.status != "revoked":
        return ask_first(
            hidden=[("reason", reason)],
            title=_("Revoke certificate %(serial)s?", serial=cert.serial),
            consequences=[
                _(
                    "%(name)s's %(title)s will verify as revoked, with the reason: %(reason)s",
                    name=cert.person.name,
                    title=cert.credential.title,
                    reason=reason,
                ),
                _("A revoked certificate stays revoked. To correct a certificate, reissue it instead."),
            ],
            button=_("Revoke certificate"),
            back=back,
            danger=True,
        )
    with attempt() as outcome:
        services.revoke_certificate(certificate=cert, reason=reason, actor=current_user)
    if outcome.ok:
        flash(_("Certificate %(serial)s revoked.", serial=cert.serial), "success")
    else:
        flash(str(outcome.error.message), "error")
    return redirect(back)


@bp.post("/certificates/<id:certificate_id>/reissue")
@permission_required(MANAGE)
def reissue(certificate_id: int):
    """Issue a new serial for a corrected certificate; asks first."""
    cert = _managed_certificate(certificate_id)
    back = url_for("credentials.certificate", certificate_id=cert.id)
    if not confirmed() and cert.superseded_by_id is None:
        return ask_first(
            title=_("Reissue certificate %(serial)s?", serial=cert.serial),
            consequences=[
                _(
                    "%(name)s gets a new %(title)s with a new serial number, stating what the records say now.",
                    name=cert.person.name,
                    title=cert.credential.title,
                ),
                _("%(serial)s then verifies as superseded by the new one; this cannot be undone.", serial=cert.serial),
            ],
            button=_("Reissue"),
            back=back,
        )
    with attempt() as outcome:
        new = services.reissue_certificate(certificate=cert, actor=current_user)
    if not outcome.ok:
        flash(str(outcome.error.message), "error")
        return redirect(back)
    flash(_("Reissued as %(serial)s; the old certificate now verifies as superseded.", serial=new.serial), "success")
    return redirect(url_for("credentials.certificate", certificate_id=new.id))


@bp.get("/my/certificates")
@login_required
def mine():
    if current_user.person is None:
        abort(404)
    certificates = queries.own_certificates(current_user)
    renewals = renewal.check_many(c for c in certificates if renewal.is_due(c))  # what renewing still asks
    return render_template(
        "lms/credentials/mine.html",
        certificates=certificates,
        status_of=services.verification_status,
        renewals=renewals,
        within_reach=services.within_reach(current_user.person),
    )


def _verify_limit() -> str:
    return current_app.config["LMS_VERIFY_RATE_LIMIT"]


def _verify_page(started: float, typed: str, view: dict | None, check: dict | None = None):
    """The verification page, answered no sooner than the floor (found or not, the same time)."""
    body = render_template("lms/credentials/verify.html", view=view, code=typed, check=check)
    time.sleep(max(0.0, VERIFY_FLOOR_SECONDS - (time.perf_counter() - started)))
    response = current_app.make_response((body, 200 if view else 404))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/verify/")
@limiter.limit(_verify_limit)
def verify_form():
    """The verification form; what is typed is a verification code or a serial number, as printed or not.

    A code opens the full page. A serial (which can be guessed) shows only whether that certificate is
    valid, and asks for the code beside it on the paper for the rest.
    """
    typed = request.args.get("code", "").strip()
    if not typed:
        return render_template("lms/credentials/verify.html", view=None, code="", check=None)
    started = time.perf_counter()
    if services.find_by_code(typed) is not None:
        return redirect(url_for("credentials.verify", code=services.normalise_code(typed)))
    cert = services.find_by_serial(typed)
    return _verify_page(started, typed[:64], services.public_view(cert, full=False) if cert else None)


@bp.route("/verify/pdf", methods=["GET", "POST"])
@limiter.limit(_verify_limit, methods=["POST"])
def verify_pdf():
    """Check an uploaded PDF: the unaltered original of an issued certificate, or not (and what it claims)."""
    from .pdfsign import check_upload

    form = VerifyPdfForm()
    result = None
    if form.validate_on_submit():
        data = form.pdf.data.read()
        if not data.startswith(b"%PDF-"):
            form.pdf.errors.append(_("This is not a PDF file."))
        else:
            result = check_upload(data)
    status = 422 if form.errors else 200
    return render_template("lms/credentials/verify_pdf.html", form=form, result=result), status


@bp.get("/verify/<code>")
@limiter.limit(_verify_limit)
def verify(code: str):
    started = time.perf_counter()
    cert = services.find_by_code(code)
    view = services.public_view(cert) if cert else None
    check = badges.digital_check(cert) if cert else None
    return _verify_page(started, services.normalise_code(code), view, check)


# ---------------------------------------------------------------- credential types


# Programs, and assessments, a credential type's form lists at once (newest first; a year's link lists the
# rest). What the type already requires is listed whatever the year and the count.
LISTED = 1000


def _listing_year() -> int | None:
    """The year whose programs and assessments the type's form lists (``?year=``), else every year."""
    year = request.args.get("year", type=int)
    return year if year and FIRST_YEAR <= year <= LAST_YEAR else None


def _rule_choices(form: CredentialTypeForm, obj, year: int | None) -> dict:
    """Offer the programs and assessments of the viewer's units (of ``year``), grouped by year and program, the
    type's own kept; return what the page says about the listing (its year, the years, whether it is cut)."""
    programs = list(db.session.scalars(programs_for(current_user, year).limit(LISTED + 1)))
    cut = len(programs) > LISTED
    programs = programs[:LISTED]
    missing = set(obj.required_program_ids or []) - {p.id for p in programs} if obj is not None else set()
    if missing:  # what the type requires stays chosen, even beyond what the list offers (a form posts only its options)
        programs += db.session.scalars(
            select(Program).options(selectinload(Program.unit)).where(Program.id.in_(missing))
        )
    programs.sort(key=lambda p: (-p.year, -p.id))
    form.required_program_ids.choices = [
        SelectChoice(p.id, f"{p.title} · {p.unit.name}", optgroup=str(p.year)) for p in programs
    ]
    offered = assessment_options(current_user, limit=LISTED + 1, year=year)
    cut = cut or len(offered) > LISTED
    offered = offered[:LISTED]
    shown = {a.id for a, _c, _p in offered}
    kept = {*(obj.required_assessment_ids or []), *(obj.renewal_assessment_ids or [])} - shown if obj else set()
    everything = offered + (assessment_options(None, ids=sorted(kept)) if kept else [])  # kept: offered in both
    everything.sort(key=lambda row: (-row[2].year, row[2].id, row[1].code, row[0].position))
    form.required_assessment_ids.choices = _assessment_choices(everything)
    form.renewal_assessment_ids.choices = _assessment_choices(everything)
    return {"year": year, "years": program_years(current_user), "cut": cut, "listed": LISTED}


def _assessment_choices(rows) -> list[SelectChoice]:
    """Assessments grouped by their program (its year, title and unit)."""
    return [
        SelectChoice(
            a.id, f"{course.title} · {a.title}", optgroup=f"{program.year} {program.title} · {program.unit.name}"
        )
        for a, course, program in rows
    ]


def _type_form(obj=None) -> tuple[CredentialTypeForm, dict]:
    form = CredentialTypeForm(obj=obj)
    form.design.choices = [SelectChoice(d, f"{d} · {load_design(d).title}") for d in available_designs()]
    form.issuer_unit_id.choices = [SelectChoice(u.id, "　" * u.depth + u.name) for u in visible_units(current_user)]
    listing = _rule_choices(form, obj, _listing_year())
    form.required_tiers.choices = [SelectChoice(t, TIER_LABELS[t]) for t in TIERS]
    categories = [SelectChoice("", "—")] + [SelectChoice(c, CATEGORY_LABELS[c]) for c in CATEGORIES]
    form.transition_from.choices = categories
    form.transition_to.choices = categories
    if request.method == "GET" and obj is not None:
        form.validity_years.data = obj.validity_months // 12 if obj.validity_months else None
        form.transition_from.data = obj.transition_from or ""
        form.transition_to.data = obj.transition_to or ""
    return form, listing


def _type_data(form: CredentialTypeForm) -> dict:
    data = {f: getattr(form, f).data for f in TYPE_FORM_FIELDS}
    data["validity_months"] = form.validity_years.data * 12 if form.validity_years.data else None
    return data


def _seal(form: CredentialTypeForm) -> tuple[str, bytes] | None:
    upload = form.seal.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    return upload.filename, upload.read(types.SEAL_MAX_BYTES + 1)


def _type_page(form, listing: dict, credential=None):
    return render_template("lms/credentials/type_form.html", form=form, listing=listing, credential=credential)


@bp.route("/credentials/types/new", methods=["GET", "POST"])
@permission_required(MANAGE)
def new_type():
    form, listing = _type_form()
    if form.validate_on_submit():
        unit = found(unit_for(current_user, form.issuer_unit_id.data))
        with attempt() as outcome:
            cred = types.create_type(data=_type_data(form), issuer_unit=unit, seal=_seal(form), actor=current_user)
        if outcome.ok:
            flash(_("Credential type %(title)s created.", title=cred.title), "success")
            return redirect(url_for("credentials.credential", credential_id=cred.id))
        show_refusal(outcome.error, form, {"validity_months": "validity_years"})
    return _type_page(form, listing)


@bp.route("/credentials/<id:credential_id>/edit", methods=["GET", "POST"])
@permission_required(MANAGE)
def edit_type(credential_id: int):
    cred = found(queries.credential_for(current_user, credential_id))
    form, listing = _type_form(cred)
    del form.issuer_unit_id  # a type stays with its issuing unit
    if form.validate_on_submit():
        with attempt() as outcome:
            types.update_type(
                credential=cred,
                data=_type_data(form),
                seal=_seal(form),
                drop_seal=bool(form.drop_seal.data),
                actor=current_user,
            )
        if outcome.ok:
            flash(_("Saved. Certificates already issued keep what they state."), "success")
            return redirect(url_for("credentials.credential", credential_id=cred.id))
        show_refusal(outcome.error, form, {"validity_months": "validity_years"})
    return _type_page(form, listing, cred)


@bp.get("/credentials/<id:credential_id>/seal")
@permission_required(MANAGE)
def seal(credential_id: int):
    cred = found(queries.credential_for(current_user, credential_id))
    if not cred.seal_key:
        abort(404)
    media = "image/png" if cred.seal_key.endswith(".png") else "image/svg+xml"
    response = make_response(storage().get(cred.seal_key))
    response.headers["Content-Type"] = media
    # An SVG shown on its own may not run anything, whatever slipped through.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
