"""Signed PDFs (PAdES baseline B-B, with pyHanko) and checking an uploaded PDF.

Every issued PDF is signed before it is stored (its stored SHA-256 is of the signed file). In
embedded mode it is signed with the issuing unit's own key, under a self-signed X.509 certificate
naming the issuer (made with the key, ``IssuerKey.certificate_pem``). In production a bureau's own
certificate can sign instead: ``LMS_PDF_SIGNING_P12`` (a PKCS#12 file) and
``LMS_PDF_SIGNING_P12_PASSWORD``.

An uploaded PDF is an unaltered original when its SHA-256 is the one stored for an issued
certificate. Otherwise its signature says what it can: a signature of one of the academy's issuers
whose signed bytes were changed, or no such signature at all.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from .models import Certificate, IssuerKey
from .services import verification_status


def _off_the_loop(func, *args, **kwargs):
    """Call one of pyHanko's synchronous functions, which run ``asyncio.run`` inside.

    Where an event loop already runs in this thread (an asynchronous server, a browser driven from the
    same process), ``asyncio.run`` refuses; the call then runs on a thread of its own, and waits.
    """
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return func(*args, **kwargs)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdf-signature") as pool:
        return pool.submit(func, *args, **kwargs).result()


FIELD = "IssuerSignature"
REASON_PREFIX = "证书编号 "  # the signature's reason names the serial: 证书编号 GSMZ-2026-00069
CERT_YEARS = 30


def make_certificate(private_key, issuer_name: str, created) -> str:
    """A self-signed X.509 certificate (PEM) of ``private_key`` naming the issuer, for signing PDFs."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, issuer_name[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "社工学堂 Shegong Academy"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(created - timedelta(minutes=5))
        .not_valid_after(created + timedelta(days=365 * CERT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, True, False, False, False), critical=True
        )  # digitalSignature, nonRepudiation, keyCertSign
        .sign(private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _asn1_certificate(pem: str):
    from asn1crypto import pem as apem
    from asn1crypto import x509 as ax509

    _type, _headers, der = apem.unarmor(pem.encode())
    return ax509.Certificate.load(der)


def _signer(key: IssuerKey | None):
    """pyHanko's signer: the configured PKCS#12 certificate, else the issuing unit's key (cached per key)."""
    from pyhanko.sign import signers

    cache = current_app.extensions.setdefault("lms_pdf_signers", {})
    p12 = current_app.config.get("LMS_PDF_SIGNING_P12")
    cache_key = ("p12", p12) if p12 else ("key", key.kid)
    signer = cache.get(cache_key)
    if signer is None:
        if p12:
            password = current_app.config.get("LMS_PDF_SIGNING_P12_PASSWORD")
            signer = signers.SimpleSigner.load_pkcs12(p12, passphrase=password.encode() if password else None)
            if signer is None:
                raise RuntimeError(f"LMS_PDF_SIGNING_P12: {p12} could not be read")
        else:
            from asn1crypto import keys as akeys
            from cryptography.hazmat.primitives import serialization

            from .signing import private_key

            der = private_key(key).private_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            signer = signers.SimpleSigner(
                signing_cert=_asn1_certificate(key.certificate_pem),
                signing_key=akeys.PrivateKeyInfo.load(der),
                cert_registry=None,
            )
        cache[cache_key] = signer
    return signer


def sign_pdf(certificate: Certificate, pdf: bytes) -> bytes:
    """The certificate's PDF with the issuer's PAdES B-B signature (invisible; the seal is the visible mark)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    from .signing import signing_key

    key = signing_key(certificate.issuer_unit)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=f"{REASON_PREFIX}{certificate.serial}",
        name=certificate.claims.get("issuer"),
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    signer = _signer(key)
    return _off_the_loop(
        signers.sign_pdf, writer, meta, signer=signer, bytes_reserved=_room_for_signature(signer)
    ).getvalue()


def _room_for_signature(signer) -> int:
    """The hex digits kept in the PDF for the signature: its certificates and 4 KiB more, twice over.

    Without it pyHanko makes a whole dummy signature first to measure one, a third of each signing. The
    container holds the signing certificate, its chain (a PKCS#12's), the signed attributes and the
    signature itself; the space left over is padding, a few KiB per PDF.
    """
    certificates = [signer.signing_cert, *(signer.cert_registry or ())]
    return 2 * (sum(len(c.dump()) for c in certificates) + 4096)


@dataclass
class UploadCheck:
    """What an uploaded PDF turned out to be."""

    stored: bool  # byte for byte the PDF on record
    certificate: Certificate | None  # the certificate it is (or claims to be)
    signature: str  # "intact": an issuer's signature over the whole file; "altered"; "foreign"; "none"

    @property
    def intact(self) -> bool:
        """An unaltered original: the copy on record, or signed by one of the issuers and not changed since."""
        return self.certificate is not None and (self.stored or self.signature == "intact")

    @property
    def status(self) -> str:
        return verification_status(self.certificate) if self.certificate is not None else "unknown"

    def as_json(self) -> dict:
        return {
            "status": self.status,
            "serial": self.certificate.serial if self.certificate is not None else None,
            "intact": self.intact,
            "signature": self.signature,
        }


def check_upload(data: bytes) -> UploadCheck:
    """Whether ``data`` is an unaltered original of an issued certificate, and if not what it claims."""
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    stored = db.session.scalar(select(Certificate).where(Certificate.pdf_sha256 == digest).limit(1))
    signature, serial = _signature(data)
    if stored is not None:
        return UploadCheck(True, stored, signature)
    claimed = None
    if serial:
        claimed = db.session.scalar(select(Certificate).where(Certificate.serial == serial))
    return UploadCheck(False, claimed, signature)


def _signature(data: bytes) -> tuple[str, str | None]:
    """The upload's signature, checked against the academy's issuer certificates, and the serial it names.

    An upload is anyone's bytes: whatever pyHanko makes of a malformed file (it raises more than its own
    errors: AttributeError, AssertionError, RecursionError…) is an unreadable file or an altered
    signature, never a server error.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    try:
        signatures = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
        ours = [s for s in signatures if s.field_name == FIELD]
        reason = str(ours[-1].sig_object.get("/Reason", "")) if ours else ""
    except Exception as exc:  # noqa: BLE001  (see the docstring)
        current_app.logger.info("uploaded PDF unreadable: %r", exc)
        return "none", None
    if not ours:
        return ("foreign" if signatures else "none"), None
    embedded = ours[-1]
    serial = reason.removeprefix(REASON_PREFIX).strip()[:64] if reason.startswith(REASON_PREFIX) else None
    roots = [_asn1_certificate(pem) for pem in db.session.scalars(select(IssuerKey.certificate_pem))]
    if current_app.config.get("LMS_PDF_SIGNING_P12"):
        roots.append(_signer(None).signing_cert)  # the bureau's own certificate signs in production
    try:
        context = ValidationContext(trust_roots=roots, allow_fetching=False)
        status = _off_the_loop(validate_pdf_signature, embedded, context)
    except Exception as exc:  # noqa: BLE001  (see the docstring)
        current_app.logger.info("uploaded PDF signature refused: %r", exc)
        return "altered", serial
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    if status.intact and status.valid and status.trusted and whole:
        return "intact", serial
    if status.intact and status.valid and not status.trusted:
        return "foreign", None
    return "altered", serial
