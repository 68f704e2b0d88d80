"""How unit kinds are named on the pages."""

from ..core.i18n import _l

KIND_LABELS = {
    "province": _l("Province"),
    "city": _l("City"),
    "district": _l("District or county"),
    "street": _l("Street or township"),
    "community": _l("Community or village"),
    "centre": _l("Guidance centre"),
    "station": _l("Social work station"),
    "room": _l("Social work room"),
}
