"""How roles are named on the pages."""

from ..core.i18n import _l

ROLE_LABELS = {
    "admin": _l("Administrator"),
    "coordinator": _l("Coordinator"),
    "supervisor": _l("Supervisor"),
    "instructor": _l("Instructor"),
    "trainee": _l("Trainee"),
}
