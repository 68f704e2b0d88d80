"""Credential pages: list, eligibility and approval, issued certificates, revoke/reissue, bulk print, verification."""

from __future__ import annotations

import io
import time

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from sqlalchemy.orm import selectinload

from ..auth.current import current_user, login_required, permission_required
from ..auth.permissions import MANAGE, can
from ..core.access import found
from ..core.forms import ActionForm
from ..core.i18n import _
from ..core.routing import id_arg, page_arg
from ..core.uow import attempt
from ..extensions import db, limiter
from . import queries, services
from .badges import open_badge
from .jobs import start_issuing, start_printing
from .models import Certificate

bp = Blueprint("credentials", __name__)
# Unknown and known codes take the same time to answer.
VERIFY_FLOOR_SECONDS = 0.05
# More people than this are issued by a job: the page answers at once and shows the job's progress.
INLINE_APPROVALS = 5


@bp.get("/credentials/")
@permission_required(MANAGE)
def index():
    credentials = queries.credentials_for(current_user)
    return render_template(
        "lms/credentials/index.html", credentials=credentials, counts=queries.issued_counts([c.id for c in credentials])
    )


@bp.get("/credentials/<id:credential_id>")
@permission_required(MANAGE)
def credential(credential_id: int):
    cred = found(queries.credential_for(current_user, credential_id))
    show = request.args.get("show", "eligible")
    if show not in ("eligible", "waiting", "issued"):
        show = "eligible"
    q = (request.args.get("q") or "").strip()[:64]
    per_page = current_app.config["LMS_PER_PAGE"]
    page_number = request.args.get("page", 1, type=page_arg)
    counts = queries.eligibility_counts(cred, current_user)
    counts["issued"] = queries.certificate_count(current_user, cred)
    items = []
    if show == "issued":
        stmt = queries.certificates_for(current_user, cred, q or None).options(selectinload(Certificate.person))
        page = db.paginate(stmt, page=page_number, per_page=per_page, max_per_page=100, error_out=False)
        items = page.items
    else:
        stmt = queries.eligibility_list(cred, current_user, eligible=show == "eligible")
        page = db.paginate(stmt, page=page_number, per_page=per_page, max_per_page=100, error_out=False, count=False)
        page.total = counts[show]  # counted above for the tabs: the rule is not evaluated a third time
        if page.items:  # hours and what is missing, for this page's people only
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
    )


@bp.post("/credentials/<id:credential_id>/approve")
@permission_required(MANAGE)
def approve(credential_id: int):
    cred = found(queries.credential_for(current_user, credential_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    if request.form.get("all") == "1":
        ids = queries.eligible_ids(cred, current_user)  # everyone, not only the page shown
    else:
        ids = list(dict.fromkeys(request.form.getlist("person_id", type=id_arg)))
    if len(ids) > INLINE_APPROVALS:
        return redirect(url_for("jobs.job", job_id=start_issuing(cred, ids, current_user).id))
    summary = services.issue_to_people(credential=cred, person_ids=ids, actor=current_user)
    if summary.issued:
        flash(_("Issued %(n)d certificate(s).", n=summary.issued), "success")
    if summary.held:
        flash(_("%(n)d already held a valid certificate: none was issued to them again.", n=summary.held), "info")
    if summary.stopped:
        flash(_("Issuing stopped: %(reason)s", reason=str(summary.stopped)), "error")
    for message in summary.refused[:10]:
        flash(str(message), "error")
    return redirect(url_for("credentials.credential", credential_id=cred.id, show="issued"))


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
        status=services.verification_status(cert),
        form=ActionForm(),
        can_manage=can(current_user, MANAGE),
    )


@bp.get("/certificates/<id:certificate_id>.pdf")
@login_required
def certificate_pdf(certificate_id: int):
    cert = found(queries.certificate_for(current_user, certificate_id))
    pdf = services.certificate_pdf(cert)  # rendered once, then served from the store
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", download_name=f"{cert.serial}.pdf")


@bp.get("/certificates/<id:certificate_id>/badge.json")
@login_required
def certificate_badge(certificate_id: int):
    cert = found(queries.certificate_for(current_user, certificate_id))
    response = jsonify(open_badge(cert))
    response.headers["Content-Disposition"] = f"attachment; filename={cert.serial}.json"
    return response


@bp.post("/certificates/<id:certificate_id>/revoke")
@permission_required(MANAGE)
def revoke(certificate_id: int):
    cert = found(queries.certificate_for(current_user, certificate_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    with attempt() as outcome:
        services.revoke_certificate(certificate=cert, reason=request.form.get("reason", ""), actor=current_user)
    if outcome.ok:
        flash(_("Certificate %(serial)s revoked.", serial=cert.serial), "success")
    else:
        flash(str(outcome.error.message), "error")
    return redirect(url_for("credentials.certificate", certificate_id=cert.id))


@bp.post("/certificates/<id:certificate_id>/reissue")
@permission_required(MANAGE)
def reissue(certificate_id: int):
    cert = found(queries.certificate_for(current_user, certificate_id))
    if not ActionForm().validate_on_submit():
        abort(400)
    with attempt() as outcome:
        new = services.reissue_certificate(certificate=cert, actor=current_user)
    if not outcome.ok:
        flash(str(outcome.error.message), "error")
        return redirect(url_for("credentials.certificate", certificate_id=cert.id))
    flash(_("Reissued as %(serial)s; the old certificate now verifies as superseded.", serial=new.serial), "success")
    return redirect(url_for("credentials.certificate", certificate_id=new.id))


@bp.get("/my/certificates")
@login_required
def mine():
    if current_user.person is None:
        abort(404)
    certificates = queries.own_certificates(current_user)
    return render_template(
        "lms/credentials/mine.html", certificates=certificates, status_of=services.verification_status
    )


def _verify_limit() -> str:
    return current_app.config["LMS_VERIFY_RATE_LIMIT"]


@bp.get("/verify/")
@limiter.limit(_verify_limit)
def verify_form():
    code = request.args.get("code", "")
    if code:
        return redirect(url_for("credentials.verify", code=services.normalise_code(code)))
    return render_template("lms/credentials/verify.html", view=None, code="")


@bp.get("/verify/<code>")
@limiter.limit(_verify_limit)
def verify(code: str):
    started = time.perf_counter()
    cert = services.find_by_code(code)
    view = services.public_view(cert) if cert else None
    body = render_template("lms/credentials/verify.html", view=view, code=services.normalise_code(code))
    time.sleep(max(0.0, VERIFY_FLOOR_SECONDS - (time.perf_counter() - started)))
    response = current_app.make_response((body, 200 if view else 404))
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
