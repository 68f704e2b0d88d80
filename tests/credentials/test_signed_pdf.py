"""Signed PDFs (PAdES B-B) and /verify/pdf: an unaltered original, or not.

pyHanko's own validator checks the signature with the issuer's certificate as published in its
JWKS (``x5c``): an outsider's way, not the academy's.
"""

from __future__ import annotations

import base64
import io
import re

import pytest

from shegong_academy.credentials.models import Certificate
from shegong_academy.credentials.services import certificate_pdf, issue_certificate, revoke_certificate
from shegong_academy.extensions import db
from tests.conftest import make_app, use_storage
from tests.credentials.test_credentials import _credential, _trained
from tests.factories import World

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:fontTools.*")


def _issued(app, tmp_path) -> dict:
    """Issue a certificate of 拱墅区 (to 李四), stored under ``tmp_path``; its id, serial and PDF."""
    use_storage(app, tmp_path / "pdfs")
    with app.app_context():
        w = World()
        cred = _credential(w)
        _trained(w, [w.person])
        certificate = issue_certificate(credential=cred, person=w.person, actor=w.coord)
        db.session.commit()
        return {"id": certificate.id, "serial": certificate.serial, "pdf": certificate_pdf(certificate)}


@pytest.fixture
def signed(app, tmp_path):
    """A rendered, stored certificate of 拱墅区 (to 李四)."""
    return _issued(app, tmp_path)


def _validate(app, pdf: bytes):
    """pyHanko's validation against the issuer certificate published in 拱墅区's JWKS."""
    from asn1crypto import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    keys = app.test_client().get("/api/v1/issuers/330105/jwks").json["keys"]
    roots = [x509.Certificate.load(base64.b64decode(k["x5c"][0])) for k in keys]
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    return validate_pdf_signature(signature, ValidationContext(trust_roots=roots, allow_fetching=False))


def _upload(client, pdf: bytes, name: str = "certificate.pdf"):
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/verify/pdf").text)
    token = {"csrf_token": found.group(1)} if found else {}  # tests run without CSRF unless they ask for it
    return client.post(
        "/verify/pdf", data={**token, "pdf": (io.BytesIO(pdf), name)}, content_type="multipart/form-data"
    )


def _flip(pdf: bytes, at: int) -> bytes:
    return pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :]


def test_an_issued_pdf_is_signed_whole_and_intact(app, signed):
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    status = _validate(app, signed["pdf"])
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert "杭州市拱墅区民政局" in status.signing_cert.subject.human_friendly
    with app.app_context():
        stored = db.session.get(Certificate, signed["id"])
        import hashlib

        assert stored.pdf_sha256 == hashlib.sha256(signed["pdf"]).hexdigest()  # the hash is of the signed file


def test_one_changed_byte_is_reported_as_altered(app, signed):
    pdf = signed["pdf"]
    altered = _flip(pdf, len(pdf) // 3)  # inside the signed range, in a content stream or a font
    assert not _validate(app, altered).intact
    client = app.test_client()
    original = _upload(client, pdf)
    assert original.status_code == 200
    assert "未经改动的原件" in original.text and signed["serial"] in original.text and "有效" in original.text
    changed = _upload(client, altered)
    assert changed.status_code == 200 and "不是未经改动的原件" in changed.text and signed["serial"] in changed.text
    api = client.post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(altered), "x.pdf")})
    assert api.status_code == 200
    assert api.json == {"status": "valid", "serial": signed["serial"], "intact": False, "signature": "altered"}
    api = client.post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(pdf), "x.pdf")})
    assert api.json == {"status": "valid", "serial": signed["serial"], "intact": True, "signature": "intact"}


def test_an_appended_update_after_signing_is_altered(app, signed):
    """A change saved as an incremental update (what an editor does) leaves the signed bytes but not the whole."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed["pdf"]))
    writer.root["/Lang"] = generic.pdf_string("en")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    edited = out.getvalue()
    assert edited.startswith(signed["pdf"][:100]) and len(edited) > len(signed["pdf"])
    answer = app.test_client().post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(edited), "x.pdf")})
    assert answer.json["intact"] is False and answer.json["signature"] == "altered"
    assert answer.json["serial"] == signed["serial"]


def test_a_revoked_original_says_so_and_a_stranger_pdf_is_not_ours(app, signed):
    with app.app_context():
        revoke_certificate(certificate=db.session.get(Certificate, signed["id"]), reason="信息有误", actor=None)
        db.session.commit()
    client = app.test_client()
    page = _upload(client, signed["pdf"])
    assert "未经改动的原件" in page.text and "已不再有效" in page.text
    api = client.post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(signed["pdf"]), "x.pdf")})
    assert api.json["status"] == "revoked" and api.json["intact"] is True
    from weasyprint import HTML

    stranger = HTML(string="<p>证书编号：GSMZ-2026-00001</p>").write_pdf()
    page = _upload(client, stranger)
    assert "不是本平台签发的证书" in page.text
    api = client.post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(stranger), "x.pdf")})
    assert api.json == {"status": "unknown", "serial": None, "intact": False, "signature": "none"}


def test_what_is_not_a_pdf_is_refused_and_nothing_is_kept(app, signed, tmp_path):
    client = app.test_client()
    page = _upload(client, "<html>证书</html>".encode())
    assert page.status_code == 422 and "这不是 PDF 文件" in page.text
    api = client.post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(b"GIF89a"), "x.pdf")})
    assert api.status_code == 422 and api.mimetype == "application/problem+json"
    assert client.post("/api/v1/verify/pdf", data={}).status_code == 422
    truncated = signed["pdf"][: len(signed["pdf"]) // 2]
    api = client.post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(truncated), "x.pdf")})
    assert api.status_code == 200 and api.json["intact"] is False
    assert sorted(p.name for p in (tmp_path / "pdfs" / "certificates").iterdir()) == [f"{signed['serial']}.pdf"]


def test_the_upload_form_needs_its_csrf_token_and_a_file_within_the_limit(db_url, tmp_path):
    app = make_app(db_url, WTF_CSRF_ENABLED=True, LMS_MAX_UPLOAD_BYTES=200_000)
    client = app.test_client()
    refused = client.post("/verify/pdf", data={"pdf": (io.BytesIO(b"%PDF-1.7"), "x.pdf")})
    assert refused.status_code == 400
    big = b"%PDF-1.7\n" + b"0" * 300_000
    assert _upload(client, big).status_code == 413
    assert client.post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(big), "x.pdf")}).status_code == 413
    with app.app_context():
        db.engine.dispose()


def test_checking_uploads_is_rate_limited(db_url):
    app = make_app(db_url, LMS_VERIFY_RATE_LIMIT="3 per minute")
    client = app.test_client()
    codes = [client.post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(b"x"), "x.pdf")}).status_code for _ in range(5)]
    assert codes[:3] == [422] * 3 and codes[3:] == [429, 429]
    with app.app_context():
        db.engine.dispose()


def test_a_demo_certificate_is_signed_and_intact(demo_app, tmp_path):
    """In the demo world, the transition certificate of one eligible 拱墅区 worker, as pyHanko validates it."""
    from shegong_academy.credentials.queries import credential_by_name
    from shegong_academy.credentials.services import eligibility

    use_storage(demo_app, tmp_path / "pdfs")
    with demo_app.app_context():
        credential = credential_by_name("project-social-worker")
        person = next(item.person for item in eligibility(credential, None) if item.eligible)
        certificate = issue_certificate(credential=credential, person=person, actor=None)
        pdf = certificate_pdf(certificate)
        from shegong_academy.credentials.signing import jwks

        keys = jwks(certificate.issuer_unit)["keys"]  # what the JWKS route answers once this is committed
        db.session.rollback()  # the demo database is shared: leave it as it was
    from asn1crypto import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    roots = [x509.Certificate.load(base64.b64decode(k["x5c"][0])) for k in keys]
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=roots, allow_fetching=False))
    assert status.bottom_line and status.intact and status.trusted


def test_signing_and_checking_work_where_an_event_loop_runs(app, signed):
    """pyHanko runs asyncio.run inside; a loop already running in the thread (an async server, a browser driven
    from the test process) must not turn issuing or checking into a server error."""
    import asyncio

    from weasyprint import HTML

    unsigned = HTML(string="<p>证书编号：GSMZ-2026-00001</p>").write_pdf()

    async def inside_a_loop():
        with app.app_context():
            from shegong_academy.credentials.pdfsign import check_upload, sign_pdf

            certificate = db.session.get(Certificate, signed["id"])
            return check_upload(signed["pdf"]).as_json(), sign_pdf(certificate, unsigned)

    checked, resigned = asyncio.run(inside_a_loop())
    assert checked == {"status": "valid", "serial": signed["serial"], "intact": True, "signature": "intact"}
    assert resigned.startswith(unsigned[:8]) and len(resigned) > len(unsigned)
    assert _validate(app, resigned).intact


def test_the_archival_copy_is_pdf_a_3b_with_the_signed_credential_inside(app, signed):
    """PDF/A-3b (XMP pdfaid 3/B), the signed OB3 credential embedded as an associated file, the issuer's signature
    over the whole file; the upload check finds it an unaltered original."""
    import json

    import pikepdf

    from tests.credentials.test_verifiable import _verified_proof
    from tests.factories import login

    client = app.test_client()
    login(client, "coord")
    answer = client.get(f"/certificates/{signed['id']}/archival.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert f"{signed['serial']}-archival.pdf" in answer.headers["Content-Disposition"]
    archival = answer.get_data()
    assert client.get(f"/certificates/{signed['id']}/archival.pdf").get_data() == archival  # kept, not redrawn
    with pikepdf.open(io.BytesIO(archival)) as pdf:
        meta = pdf.open_metadata()
        assert (meta.get("pdfaid:part"), meta.get("pdfaid:conformance")) == ("3", "B")
        attached = pdf.attachments["credential.json"]
        credential = json.loads(attached.get_file().read_bytes())
        assert attached.relationship == pikepdf.Name.Alternative
        assert pdf.Root.get("/AF") is not None  # PDF/A-3: the file is associated with the document
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["evidence"][0]["name"] == f"证书编号 {signed['serial']}"
    _verified_proof(app, credential)
    status = _validate(app, archival)
    assert status.intact and status.valid and status.trusted
    checked = app.test_client().post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(archival), "a.pdf")}).json
    assert checked == {"status": "valid", "serial": signed["serial"], "intact": True, "signature": "intact"}
    other = app.test_client()
    login(other, "coordout")
    assert other.get(f"/certificates/{signed['id']}/archival.pdf").status_code == 404


def _hostile_pdfs() -> dict[str, bytes]:
    """PDFs that pyHanko reads into exceptions of its own (AttributeError, AssertionError): each must be an
    answer, never a server error."""
    import pikepdf

    out = {}
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        field = pdf.make_indirect(
            pikepdf.Dictionary(FT=pikepdf.Name.Sig, T=pikepdf.String("IssuerSignature"), V=3, Rect=[0, 0, 0, 0])
        )
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[field])
        buffer = io.BytesIO()
        pdf.save(buffer)
        out["signature-value-an-integer"] = buffer.getvalue()
    body = b"%PDF-1.7\n1 0 obj\n[1 2 3]\nendobj\n"
    xref = len(body)
    out["root-not-a-dictionary"] = body + (
        b"xref\n0 2\n0000000000 65535 f \n0000000009 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\n"
        b"startxref\n" + str(xref).encode() + b"\n%%EOF\n"
    )
    out["garbage-after-the-header"] = b"%PDF-1.7\n" + bytes(range(256)) * 40
    return out


@pytest.mark.parametrize("name", list(_hostile_pdfs()))
def test_a_malformed_pdf_is_answered_not_a_server_error(app, name):
    data = _hostile_pdfs()[name]
    api = app.test_client().post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(data), "x.pdf")})
    assert api.status_code == 200, api.get_data(as_text=True)[:300]
    assert api.json["intact"] is False and api.json["status"] == "unknown"
    page = _upload(app.test_client(), data)
    assert page.status_code == 200 and "不是本平台签发的证书" in page.text


@pytest.mark.parametrize(
    "ref,status",
    [("id-99999999999999999999", 404), ("id-²", 404), ("id-0", 404), ("id-", 404), ("..", 404), ("330105%00", 400)],
)
def test_an_issuer_reference_no_unit_can_have_is_refused(app, ref, status):
    for path in (
        f"/api/v1/issuers/{ref}",
        f"/api/v1/issuers/{ref}/jwks",
        f"/api/v1/issuers/{ref}/did.json",
        f"/api/v1/status-lists/{ref}",
    ):
        answer = app.test_client().get(path)
        assert answer.status_code == status, (path, answer.status_code)


def _issued_under_p12(app, tmp_path, p12: bytes):
    """Configure the bureau's PKCS#12 (password s3cret), issue a certificate; its PDF, serial and signature."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    (tmp_path / "bureau.p12").write_bytes(p12)
    app.config.update(LMS_PDF_SIGNING_P12=str(tmp_path / "bureau.p12"), LMS_PDF_SIGNING_P12_PASSWORD="s3cret")
    issued = _issued(app, tmp_path)
    (signature,) = PdfFileReader(io.BytesIO(issued["pdf"])).embedded_signatures
    return issued["pdf"], issued["serial"], signature


def test_a_bureaus_own_certificate_signs_when_configured(app, tmp_path):
    """Production: LMS_PDF_SIGNING_P12 names the bureau's PKCS#12; it signs, and the upload check trusts it."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "杭州市拱墅区民政局（电子签章）")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    p12 = pkcs12.serialize_key_and_certificates(b"bureau", key, cert, None, BestAvailableEncryption(b"s3cret"))
    pdf, serial, signature = _issued_under_p12(app, tmp_path, p12)
    assert "电子签章" in signature.signer_cert.subject.human_friendly
    checked = app.test_client().post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(pdf), "x.pdf")}).json
    assert checked == {"status": "valid", "serial": serial, "intact": True, "signature": "intact"}
    altered = _flip(pdf, len(pdf) // 3)
    checked = app.test_client().post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(altered), "x.pdf")}).json
    assert checked["intact"] is False and checked["signature"] == "altered"


def test_a_bureau_certificate_with_a_long_chain_fits_the_room_kept_for_its_signature(app, tmp_path):
    """The room kept for the signature is measured from the signer's certificates: a 4096-bit RSA certificate
    under two CAs (the PKCS#12 a bureau gets from its certification authority) signs and checks intact."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    now = dt.datetime.now(dt.UTC)

    def certificate(subject: str, issuer: str, ca: bool):
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(key, hashes.SHA512())
        )

    root = certificate("浙江省数字证书认证中心 根证书", "浙江省数字证书认证中心 根证书", True)
    intermediate = certificate("浙江省数字证书认证中心 二级", "浙江省数字证书认证中心 根证书", True)
    leaf = certificate("杭州市拱墅区民政局（电子签章）", "浙江省数字证书认证中心 二级", False)
    p12 = pkcs12.serialize_key_and_certificates(
        b"bureau", key, leaf, [intermediate, root], BestAvailableEncryption(b"s3cret")
    )
    pdf, serial, signature = _issued_under_p12(app, tmp_path, p12)
    assert len(signature.signed_data["certificates"]) == 3  # the chain travels inside the signature
    checked = app.test_client().post("/api/v1/verify/pdf", data={"pdf": (io.BytesIO(pdf), "x.pdf")}).json
    assert checked == {"status": "valid", "serial": serial, "intact": True, "signature": "intact"}
