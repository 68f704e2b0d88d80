"""Display labels of the training enumerations (models.PROGRAM_KINDS, POLICIES, MODES, statuses)."""

from ..core.i18n import _l

KIND_LABELS = {
    "camp": _l("Training camp"),
    "class": _l("Training class"),
    "workshop": _l("Workshop"),
    "salon": _l("Salon"),
    "forum": _l("Forum"),
}
POLICY_LABELS = {
    "open": _l("Open: trainees enrol themselves"),
    "coordinator": _l("By coordinator"),
    "cohort": _l("Whole cohort"),
}
MODE_LABELS = {"onsite": _l("On site"), "online": _l("Online")}
STATUS_LABELS = {"present": _l("Present"), "late": _l("Late"), "excused": _l("Excused"), "absent": _l("Absent")}
ENROLMENT_LABELS = {
    "enrolled": _l("Enrolled"),
    "waitlisted": _l("Waitlisted"),
    "withdrawn": _l("Withdrawn"),
    "completed": _l("Completed"),
    "not_completed": _l("Not completed"),
}
ASSESSMENT_KIND_LABELS = {
    "exam": _l("Written exam"),
    "practical": _l("Practical"),
    "essay": _l("Essay or case report"),
    "quiz": _l("Online quiz"),
}
RETAKE_LABELS = {"best": _l("The best sitting counts"), "last": _l("The last sitting counts")}
# A program's tier is kept as the bureaus write it (models.TIERS); the English pages name it in English.
TIER_LABELS = {"新任": _l("Newly appointed"), "骨干": _l("Core staff"), "领军": _l("Leading talent")}
OUTCOME_LABELS = {"scored": _l("Scored"), "absent": _l("Absent"), "excused": _l("Excused")}
