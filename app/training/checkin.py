"""Rotating QR check-in tokens: HMAC-SHA256 over (session, 30-second window).

A token is valid in its own window and the one after (one window of grace),
so a photo of the projector sent to a friend stops working within a minute.
"""

from __future__ import annotations

import base64
import hmac
from datetime import datetime

from ..core.crypto import keyed_mac

WINDOW_SECONDS = 30


def _window(now: datetime) -> int:
    return int(now.timestamp()) // WINDOW_SECONDS


def _mac(session_id: int, window: int) -> str:
    digest = keyed_mac("qr-checkin", f"{session_id}.{window}")[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(session_id: int, now: datetime) -> str:
    """Return the check-in token of ``session_id`` for the window containing ``now``."""
    window = _window(now)
    return f"{window}.{_mac(session_id, window)}"


def token_is_fresh(session_id: int, token: str, now: datetime) -> bool:
    """Return whether ``token`` was made for this session in this or the previous window."""
    window_text, _, mac = (token or "").partition(".")
    if not (window_text.isascii() and window_text.isdigit()) or len(window_text) > 12:  # "²" is a digit too
        return False
    window = int(window_text)
    if window not in (_window(now), _window(now) - 1):
        return False
    return hmac.compare_digest(mac, _mac(session_id, window))


def seconds_left(now: datetime) -> int:
    """Seconds until the code on screen changes."""
    return WINDOW_SECONDS - int(now.timestamp()) % WINDOW_SECONDS


# A scan of a fresh code is turned into a "scan proof" that lasts long enough to
# sign in on a phone. The proof is bound to the session, the time of the scan and
# the browser that scanned (a random id the check-in page keeps in a cookie), so a
# link forwarded to a colleague's phone is refused there.
PROOF_SECONDS = 600


def _proof_mac(session_id: int, stamp: str, browser: str) -> str:
    digest = keyed_mac("qr-proof", f"{session_id}.{stamp}.{browser}")[:16]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_proof(session_id: int, now: datetime, browser: str) -> str:
    """Return a proof that ``browser`` scanned the session's code fresh at ``now``."""
    stamp = str(int(now.timestamp()))
    return f"p{stamp}.{_proof_mac(session_id, stamp, browser)}"


def proof_is_valid(session_id: int, proof: str, now: datetime, browser: str | None) -> bool:
    """Return whether ``proof`` was made for this session and browser less than PROOF_SECONDS ago."""
    if not browser or not (proof or "").startswith("p"):
        return False
    stamp_text, _, mac = proof[1:].partition(".")
    if not (stamp_text.isascii() and stamp_text.isdigit()) or len(stamp_text) > 12:
        return False
    age = int(now.timestamp()) - int(stamp_text)
    if not 0 <= age <= PROOF_SECONDS:
        return False
    return hmac.compare_digest(mac, _proof_mac(session_id, stamp_text, browser))


def code_is_good(session_id: int, code: str, now: datetime, browser: str | None = None) -> bool:
    """A fresh rotating token, or this browser's proof of a fresh scan made within the last minutes."""
    return token_is_fresh(session_id, code, now) or proof_is_valid(session_id, code, now, browser)
