"""Open Badges 3.0: an issued certificate as an OpenBadgeCredential (unsigned JSON)."""

from __future__ import annotations

from .models import Certificate
from .services import verification_status, verify_url


def open_badge(certificate: Certificate) -> dict:
    """Return the certificate as an Open Badges 3.0 ``OpenBadgeCredential``."""
    claims = certificate.claims
    url = verify_url(certificate.verification_code)
    return {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": url,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": claims["credential"],
        "issuer": {
            "id": url.rsplit("/verify/", 1)[0] + "/issuers/" + certificate.credential.issuer_code,
            "type": ["Profile"],
            "name": claims["issuer"],
        },
        "validFrom": certificate.issued_at.isoformat(),
        **({"validUntil": certificate.expires_at.isoformat()} if certificate.expires_at else {}),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": claims["name"],
            "achievement": {
                "id": url.rsplit("/verify/", 1)[0] + "/achievements/" + certificate.credential.name,
                "type": ["Achievement"],
                "name": claims["credential"],
                "description": claims["credential"]
                + (
                    f"（{claims['transition']['from_label']} → {claims['transition']['to_label']}）"
                    if claims.get("transition")
                    else ""
                ),
                "criteria": {
                    "narrative": "；".join(
                        filter(
                            None,
                            [
                                f"培训学时 {claims['training_hours']}",
                                f"督导学时 {claims['supervision_hours']}",
                                "、".join(claims.get("programs") or []),
                            ],
                        )
                    )
                },
            },
            "result": [
                {"type": ["Result"], "value": str(claims["training_hours"]), "resultDescription": "training_hours"},
                {
                    "type": ["Result"],
                    "value": str(claims["supervision_hours"]),
                    "resultDescription": "supervision_hours",
                },
            ],
        },
        "credentialStatus": {"type": "ShegongAcademyStatus", "id": url, "status": verification_status(certificate)},
        "evidence": [{"type": ["Evidence"], "id": url, "name": f"证书编号 {certificate.serial}"}],
    }
