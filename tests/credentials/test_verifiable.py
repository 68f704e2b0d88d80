"""Certificates anyone can check without asking us: signed Open Badges 3.0, status lists, keys, serial lookup.

The outside verifier here uses only what the public routes serve (the credential as downloaded,
``/.well-known/did.json``, the JWKS and the status list) and libraries of its own (joserfc,
jsonschema, rfc8785, cryptography), never the academy's private state or its signing code.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path

import pytest
import rfc8785
from jsonschema import Draft201909Validator
from sqlalchemy import func, select, text

from shegong_academy.audit.models import AuditEntry
from shegong_academy.auth.services import create_api_token
from shegong_academy.core.crypto import decrypt_text
from shegong_academy.credentials.models import Certificate, IssuerKey
from shegong_academy.credentials.services import reissue_certificate, revoke_certificate
from shegong_academy.extensions import db
from tests.credentials.test_credentials import _credential, _trained, issue_unrendered
from tests.factories import World
from tests.training.test_concurrency import together, unexpected

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "data" / "ob3" / "ob_v3p0_achievementcredential_schema.json").read_text()
)


@pytest.fixture
def issued(app):
    """Two certificates of 拱墅区 (to 李四 and to the trainee 钱七), and API tokens."""
    with app.app_context():
        w = World()
        cred = _credential(w)
        _trained(w, [w.person, w.trainee_person])
        first = issue_unrendered(cred.id, w.person.id)
        second = issue_unrendered(cred.id, w.trainee_person.id)
        tokens = {name: create_api_token(user=getattr(w, name)) for name in ("coord", "coord_out", "trainee")}
        db.session.commit()
        from shegong_academy.people.services import reveal_id_number

        ids = {
            "first": first.serial,
            "second": second.serial,
            "first_id": first.id,
            "second_id": second.id,
            "code": first.verification_code,
            "id_number": reveal_id_number(person=w.person, actor=w.admin),
        }
        db.session.commit()
    return {"tokens": tokens, **ids}


def _get(app, url: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().get(url, headers=headers)


# ---------------------------------------------------------------- an outside verifier


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _resolve(app, did: str) -> dict:
    """did:web resolution (anonymous): did:web:host → /.well-known/did.json, did:web:host:a:b → /a/b/did.json."""
    assert did.startswith("did:web:localhost")
    path = did.split(":")[3:]
    answer = _get(app, "/" + "/".join(path) + "/did.json" if path else "/.well-known/did.json")
    assert answer.status_code == 200 and answer.json["id"] == did
    return answer.json


def _published_key(app, kid: str):
    """The public key a DID URL names, from the DID document its DID resolves to (anonymous request)."""
    from joserfc import jwk

    controller = kid.split("#", 1)[0]
    document = _resolve(app, controller)
    method = next(m for m in document["verificationMethod"] if m["id"] == kid)
    assert method["controller"] == controller and kid in document["assertionMethod"]
    assert "d" not in method["publicKeyJwk"]  # a public key only
    return jwk.ECKey.import_key(method["publicKeyJwk"])


def _verified_jwt(app, token: str) -> dict:
    from joserfc import jwt

    header = json.loads(_b64(token.split(".")[0]))
    assert header["alg"] == "ES256" and header["typ"] == "vc+jwt"
    return dict(jwt.decode(token, _published_key(app, header["kid"])).claims)


def _verified_proof(app, document: dict) -> None:
    """Check an ecdsa-jcs-2019 proof by the cryptosuite's own steps."""
    import base58
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    (proof,) = document["proof"]
    proof = dict(proof)
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "ecdsa-jcs-2019"
    assert proof["proofPurpose"] == "assertionMethod"
    raw = base58.b58decode(proof.pop("proofValue")[1:])
    options = {**proof, "@context": document["@context"]}
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    data = hashlib.sha256(rfc8785.dumps(options)).digest() + hashlib.sha256(rfc8785.dumps(unsecured)).digest()
    signature = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    _published_key(app, proof["verificationMethod"]).public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))


def _bit(app, credential: dict) -> bool:
    """Fetch the status list the credential names, check its signature and issuer, read the credential's bit."""
    entry = credential["credentialStatus"]
    assert entry["type"] == "BitstringStatusListEntry" and entry["statusPurpose"] == "revocation"
    url = entry["statusListCredential"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    token = _get(app, f"/{path}?format=jwt").text
    listed = _verified_jwt(app, token)
    assert listed["issuer"] == credential["issuer"]["id"]
    assert listed["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    signed_json = _get(app, f"/{path}").json
    _verified_proof(app, signed_json)
    encoded = listed["credentialSubject"]["encodedList"]
    assert encoded == signed_json["credentialSubject"]["encodedList"]
    raw = gzip.decompress(_b64(encoded[1:]))
    assert len(raw) * 8 >= 131_072  # the W3C minimum: the list says nothing about how many were issued
    index = int(entry["statusListIndex"])
    return bool(raw[index // 8] & (0x80 >> (index % 8)))


# ---------------------------------------------------------------- tests


def test_every_issued_credential_validates_and_verifies_with_the_published_keys_only(app, issued):
    validator = Draft201909Validator(SCHEMA)
    for serial in (issued["first"], issued["second"]):
        signed = _get(app, f"/api/v1/certificates/{serial}/ob3", issued["tokens"]["coord"])
        assert signed.status_code == 200
        document = signed.json
        assert sorted(e.message for e in validator.iter_errors(document)) == []
        _verified_proof(app, document)
        jwt_answer = _get(app, f"/api/v1/certificates/{serial}/ob3?format=jwt", issued["tokens"]["coord"])
        assert jwt_answer.status_code == 200 and jwt_answer.mimetype == "application/vc+jwt"
        payload = _verified_jwt(app, jwt_answer.text)
        assert sorted(e.message for e in validator.iter_errors(payload)) == []
        assert {k: v for k, v in payload.items() if k not in ("iss", "jti", "nbf", "exp")} == {
            k: v for k, v in document.items() if k != "proof"
        }
        assert payload["iss"] == payload["issuer"]["id"] and payload["jti"] == payload["id"]
        # The issuer is the unit's own DID, which controls the key that signed; its profile is served where
        # the credential says.
        assert payload["issuer"]["id"] == "did:web:localhost:api:v1:issuers:330105"
        assert _get(app, "/.well-known/did.json").json["id"] == "did:web:localhost"  # every issuer's keys
        profile_path = payload["issuer"]["url"].split("://", 1)[1].split("/", 1)[1]
        profile = _get(app, f"/{profile_path}")
        assert profile.status_code == 200 and profile.json["type"] == ["Profile"]
        assert profile.json["id"] == payload["issuer"]["id"] and profile.json["name"] == "杭州市拱墅区民政局"
        # A result points at a result description of its achievement, by URI.
        described = {d["id"] for d in payload["credentialSubject"]["achievement"]["resultDescription"]}
        assert {r["resultDescription"] for r in payload["credentialSubject"]["result"]} == described
        assert all(uri.startswith("urn:uuid:") for uri in described)
        assert _bit(app, payload) is False


def test_the_subject_is_a_salted_hash_of_the_id_number_never_the_number(app, issued):
    document = _get(app, f"/api/v1/certificates/{issued['first']}/ob3", issued["tokens"]["coord"]).json
    body = json.dumps(document, ensure_ascii=False)
    number = issued["id_number"]
    assert number not in body and number[-6:] not in body
    hashed = next(i for i in document["credentialSubject"]["identifier"] if i["hashed"])
    # The salt is not in the credential: with it, an ID number guessable from its masked form could be found.
    assert hashed["identityType"] == "nationalIdentityNumber" and "salt" not in hashed
    with app.app_context():
        salt = db.session.scalar(select(Certificate).where(Certificate.serial == issued["first"])).claims[
            "identity_salt"
        ]
    assert len(salt) == 32 and salt not in body
    assert hashed["identityHash"] == "sha256$" + hashlib.sha256((number + salt).encode()).hexdigest()
    # The holder's certificate page shows it, to hand to whoever must match the number.
    from tests.factories import login

    client = app.test_client()
    login(client, "coord")
    assert salt in client.get(f"/certificates/{issued['first_id']}").text
    named = next(i for i in document["credentialSubject"]["identifier"] if not i["hashed"])
    assert named == {"type": "IdentityObject", "identityType": "name", "hashed": False, "identityHash": "李四"}
    # Each certificate has a salt of its own: hashes of one number in two credentials cannot be linked.
    with app.app_context():
        salts = db.session.scalars(select(Certificate.claims)).all()
    assert len({c["identity_salt"] for c in salts}) == len(salts) == 2


def test_the_status_list_bit_is_set_by_a_revoke_and_by_a_reissue(app, issued):
    token = issued["tokens"]["coord"]
    first = _get(app, f"/api/v1/certificates/{issued['first']}/ob3?format=jwt", token).text
    second = _get(app, f"/api/v1/certificates/{issued['second']}/ob3?format=jwt", token).text
    first_payload, second_payload = _verified_jwt(app, first), _verified_jwt(app, second)
    assert _bit(app, first_payload) is False and _bit(app, second_payload) is False
    with app.app_context():
        revoke_certificate(certificate=db.session.get(Certificate, issued["first_id"]), reason="信息有误", actor=None)
        new = reissue_certificate(certificate=db.session.get(Certificate, issued["second_id"]), actor=None)
        db.session.commit()
        new_serial = new.serial
    # The credentials already handed out are unchanged; the list they point to now marks them.
    assert _bit(app, first_payload) is True and _bit(app, second_payload) is True
    replacement = _verified_jwt(app, _get(app, f"/api/v1/certificates/{new_serial}/ob3?format=jwt", token).text)
    assert _bit(app, replacement) is False


def test_a_rotated_key_signs_no_more_but_what_it_signed_still_verifies(app, issued):
    token = issued["tokens"]["coord"]
    before = _get(app, f"/api/v1/certificates/{issued['first']}/ob3?format=jwt", token).text
    result = app.test_cli_runner().invoke(args=["lms", "certificates", "rotate-key", "--unit", "330105"])
    assert result.exit_code == 0, result.output
    after = _get(app, f"/api/v1/certificates/{issued['first']}/ob3?format=jwt", token).text
    old_kid, new_kid = (json.loads(_b64(t.split(".")[0]))["kid"] for t in (before, after))
    assert old_kid != new_kid and new_kid.endswith(result.output.split("new signing key ")[1].split(";")[0])
    assert _verified_jwt(app, before)["id"] == _verified_jwt(app, after)["id"]
    keys = _get(app, "/api/v1/issuers/330105/jwks").json["keys"]
    assert [k["kid"] for k in keys] == [old_kid.rsplit("#", 1)[1], new_kid.rsplit("#", 1)[1]]
    assert all(set(k) == {"kty", "crv", "x", "y", "kid", "alg", "use", "x5c"} for k in keys)
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(IssuerKey.retired_at.is_(None))) == 1
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "issuer_key.rotate"))
        assert entry.after == {"kid": new_kid.rsplit("#", 1)[1]} and entry.before == {"kid": old_kid.rsplit("#", 1)[1]}
    rows = [
        line.split("\t")
        for line in app.test_cli_runner().invoke(args=["lms", "certificates", "keys"]).output.splitlines()
    ]
    assert [(r[0], r[1]) for r in rows] == [("330105", k["kid"]) for k in keys]
    assert rows[0][3].startswith("20") and rows[1][3] == "signing"  # retired when, and the one that signs
    unknown = app.test_cli_runner().invoke(args=["lms", "certificates", "rotate-key", "--unit", "330106"])
    assert unknown.exit_code != 0 and "issues no credential" in unknown.output


def test_private_keys_are_encrypted_at_rest_and_rekeyed_with_the_data_key(app, issued, monkeypatch):
    _get(app, f"/api/v1/certificates/{issued['first']}/ob3", issued["tokens"]["coord"])
    with app.app_context():
        stored = db.session.execute(text("SELECT private_key_enc, public_jwk FROM issuer_keys")).one()
        assert "PRIVATE KEY" not in stored[0] and "BEGIN" not in stored[0]
        assert decrypt_text(stored[0]).startswith("-----BEGIN PRIVATE KEY-----")
        assert '"d"' not in str(stored[1])
        old_key = app.config.get("LMS_DATA_KEY") or app.config["SECRET_KEY"]
    before = _get(app, f"/api/v1/certificates/{issued['first']}/ob3?format=jwt", issued["tokens"]["coord"]).text
    monkeypatch.setenv("LMS_DATA_KEY_PREVIOUS", old_key)
    app.config["LMS_DATA_KEY"] = "a-new-data-key-of-enough-length-0123456789"
    result = app.test_cli_runner().invoke(args=["lms", "rotate-data-key"])
    assert result.exit_code == 0 and "1 signing key(s)" in result.output
    after = _get(app, f"/api/v1/certificates/{issued['first']}/ob3?format=jwt", issued["tokens"]["coord"]).text
    # The same key signs, now decrypted with the new data key.
    assert json.loads(_b64(after.split(".")[0]))["kid"] == json.loads(_b64(before.split(".")[0]))["kid"]
    assert _verified_jwt(app, after)["id"] == _verified_jwt(app, before)["id"]


def test_a_tampered_credential_or_list_is_refused(app, issued):
    from cryptography.exceptions import InvalidSignature
    from joserfc.errors import BadSignatureError

    from shegong_academy.credentials import signing

    token = _get(app, f"/api/v1/certificates/{issued['first']}/ob3?format=jwt", issued["tokens"]["coord"]).text
    head, body, sig = token.split(".")
    claims = json.loads(_b64(body))
    claims["credentialSubject"]["result"][0]["value"] = "300"
    forged = ".".join([head, base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="), sig])
    with pytest.raises(BadSignatureError):
        _verified_jwt(app, forged)
    keys = _get(app, "/api/v1/issuers/330105/jwks").json
    with app.app_context(), pytest.raises(signing.SignatureInvalid):
        signing.verify_jwt(forged, keys)
    document = _get(app, f"/api/v1/certificates/{issued['first']}/ob3", issued["tokens"]["coord"]).json
    document["credentialSubject"]["identifier"][1]["identityHash"] = "张三"
    with app.app_context(), pytest.raises(signing.SignatureInvalid):
        signing.check_proof(document, keys)
    with pytest.raises(InvalidSignature):
        _verified_proof(app, document)


def test_who_may_download_a_credential_and_what_is_public(app, issued):
    tokens = issued["tokens"]
    url = f"/api/v1/certificates/{issued['first']}/ob3"
    assert _get(app, url).status_code == 401
    assert _get(app, url, tokens["coord_out"]).status_code == 404  # another district's certificate
    assert _get(app, url, tokens["trainee"]).status_code == 404  # someone else's
    own = _get(app, f"/api/v1/certificates/{issued['second']}/ob3", tokens["trainee"])
    assert own.status_code == 200 and own.json["credentialSubject"]["identifier"][1]["identityHash"] == "钱七"
    assert _get(app, "/api/v1/certificates/GSMZ-1999-99999/ob3", tokens["coord"]).status_code == 404
    assert _get(app, f"{url}?format=pdf", tokens["coord"]).status_code == 422
    # What verifying needs is public; a unit that issues nothing has no issuer page.
    assert _get(app, "/api/v1/issuers/330105").status_code == 200
    assert _get(app, "/api/v1/status-lists/330105").status_code == 200
    for path in ("/api/v1/issuers/330106", "/api/v1/issuers/330106/jwks", "/api/v1/status-lists/330106"):
        assert _get(app, path).status_code == 404
        assert _get(app, path).content_type.startswith("application/problem+json")
    assert _get(app, "/api/v1/issuers/nonesuch").status_code == 404


def test_the_certificate_page_offers_the_wallet_download(app, issued):
    from tests.factories import login

    client = app.test_client()
    login(client, "trainee")
    mine = client.get("/my/certificates")
    assert "加入电子证照夹" in mine.text or "Add to wallet" in mine.text
    page = client.get(f"/certificates/{issued['second_id']}")
    wallet = client.get(f"/certificates/{issued['second_id']}/badge.jwt")
    assert wallet.status_code == 200 and wallet.mimetype == "application/vc+jwt"
    assert f"{issued['second']}.jwt" in wallet.headers["Content-Disposition"]
    assert _verified_jwt(app, wallet.text)["credentialSubject"]["identifier"][1]["identityHash"] == "钱七"
    as_json = client.get(f"/certificates/{issued['second_id']}/badge.json")
    _verified_proof(app, as_json.json)
    assert "badge.jwt" in page.text and "badge.json" in page.text
    assert client.get(f"/certificates/{issued['first_id']}/badge.jwt").status_code == 404  # not theirs


def test_the_verification_page_checks_the_signature_and_the_status_list(app, issued):
    client = app.test_client()
    page = client.get(f"/verify/{issued['code']}")
    assert page.status_code == 200
    assert "数字签名" in page.text and "以其公布的密钥" in page.text
    assert "状态列表未将其标为撤回" in page.text
    with app.app_context():
        revoke_certificate(certificate=db.session.get(Certificate, issued["first_id"]), reason="信息有误", actor=None)
        db.session.commit()
    page = client.get(f"/verify/{issued['code']}")
    assert "状态列表已将其标为撤回" in page.text and "信息有误" in page.text
    api = client.get(f"/api/v1/verify/{issued['code']}").json
    keys = _get(app, "/api/v1/issuers/330105/jwks").json["keys"]
    assert api["status"] == "revoked" and api["digital"] == {"key": keys[-1]["kid"], "status_list": "revoked"}


@pytest.mark.parametrize(
    "typed",
    ["{serial}", "{lower}", "{compact}", "{fullwidth}", "  {serial} "],
    ids=["as-printed", "lower-case", "no-dashes", "full-width", "spaces"],
)
def test_lookup_by_serial_as_typed_shows_validity_but_not_the_claims(app, issued, typed):
    serial = issued["first"]
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c != " " else c for c in serial.lower())  # ｇｓｍｚ－２０２６－…
    value = typed.format(serial=serial, lower=serial.lower(), compact=serial.replace("-", ""), fullwidth=fullwidth)
    page = app.test_client().get("/verify/", query_string={"code": value})
    assert page.status_code == 200, value
    assert serial in page.text and "有效" in page.text
    assert "李*" in page.text and "李四" not in page.text  # a serial can be guessed: no name, no claims
    assert "培训学时" not in page.text and issued["code"] not in page.text
    assert "验证码" in page.text


def test_an_unknown_serial_or_code_is_404_and_the_form_still_takes_codes(app, issued):
    client = app.test_client()
    assert client.get("/verify/", query_string={"code": "GSMZ-2026-99999"}).status_code == 404
    assert client.get("/verify/", query_string={"code": "名字"}).status_code == 404
    found = client.get("/verify/", query_string={"code": issued["code"].lower().replace("-", " ")})
    assert found.status_code == 302 and found.headers["Location"].endswith(f"/verify/{issued['code']}")


def test_twenty_first_signatures_at_once_make_one_key(capp_keys):
    app, serial, coord = capp_keys
    results = together(app, lambda i: _get(app, f"/api/v1/certificates/{serial}/ob3?format=jwt", coord).status_code)
    assert unexpected(results) == [] and results == [200] * len(results)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IssuerKey)) == 1
    kids = {
        json.loads(_b64(_get(app, f"/api/v1/certificates/{serial}/ob3?format=jwt", coord).text.split(".")[0]))["kid"]
    }
    assert len(kids) == 1


@pytest.fixture
def capp_keys(db_url):
    from tests.conftest import make_app
    from tests.training.test_concurrency import N

    app = make_app(db_url, SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "pool_size": N + 5, "max_overflow": 0})
    with app.app_context():
        w = World()
        cred = _credential(w)
        _trained(w, [w.person])
        cert = issue_unrendered(cred.id, w.person.id)
        token = create_api_token(user=w.coord)
        db.session.commit()
        serial = cert.serial
    yield app, serial, token
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_status_entries_are_drawn_at_random_not_in_issue_order(app, issued):
    """An entry says nothing of when or in what order certificates were issued (the W3C list's privacy advice)."""
    from shegong_academy.credentials.models import status_list_size

    with app.app_context():
        rows = db.session.execute(
            select(Certificate.id, Certificate.status_index, Certificate.serial_key).order_by(Certificate.id)
        ).all()
    entries = [r.status_index for r in rows]
    assert len(set(entries)) == len(entries) and all(0 <= e < status_list_size(len(entries)) for e in entries)
    assert entries != [r.id for r in rows]  # the ids were 1 and 2: drawn from 131,072, that is 1 in 17 billion
    assert [r.serial_key for r in rows] == [issued["first"].replace("-", ""), issued["second"].replace("-", "")]
    for serial in (issued["first"], issued["second"]):
        document = _get(app, f"/api/v1/certificates/{serial}/ob3", issued["tokens"]["coord"]).json
        entry = int(document["credentialStatus"]["statusListIndex"])
        assert entry in entries and document["credentialStatus"]["id"].endswith(f"#{entry}")
    assert status_list_size(0) == 131_072 and status_list_size(40_000) == 262_144  # never over a quarter taken
