"""Display labels of the supervision enumerations (models.FORMATS, MODES, KINDS, FUNCTIONS, CREDIT_STATUSES)."""

from ..core.i18n import _l

FORMAT_LABELS = {"individual": _l("One-to-one"), "group": _l("Group")}
MODE_LABELS = {"onsite": _l("On site"), "online": _l("Online")}
KIND_LABELS = {"special": _l("Special"), "overall": _l("Overall"), "peer": _l("Peer")}
FUNCTION_LABELS = {
    "administrative": _l("Administrative"),
    "educational": _l("Educational"),
    "supportive": _l("Supportive"),
}
CREDIT_LABELS = {"unconfirmed": _l("Unconfirmed"), "confirmed": _l("Confirmed"), "disputed": _l("Disputed")}
