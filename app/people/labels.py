"""Display labels of the people enumerations, and the Chinese labels imports accept."""

from ..core.i18n import _l

CATEGORY_LABELS = {
    "community_worker": _l("Community worker"),
    "project_social_worker": _l("Project social worker"),
    "station_worker": _l("Social-work station staff"),
    "other": _l("Other"),
}
LEVEL_LABELS = {
    "none": _l("None"),
    "assistant": _l("Assistant social worker"),
    "intermediate": _l("Social worker"),
    "senior": _l("Senior social worker"),
}
TITLE_LABELS = {
    "provincial_leader": _l("Provincial social-organisation leading talent"),
    "city_leader": _l("City social-organisation leading talent"),
    "supervisor_assistant": _l("Social-work supervisor assistant"),
    "supervisor": _l("Social-work supervisor"),
}
SERVICE_AREA_LABELS = {
    "elderly": _l("Elderly care"),
    "disability": _l("Disability support"),
    "hardship": _l("Assistance in hardship"),
    "veterans": _l("Veterans and military families"),
    "mediation": _l("Three-party coordination"),
    "community_development": _l("Community development"),
}

# Chinese labels as Chinese spreadsheets spell them (accepted beside the codes).
CATEGORY_ZH = {
    "社区专职工作者": "community_worker",
    "社区工作者": "community_worker",
    "项目社工": "project_social_worker",
    "社工站(室)工作人员": "station_worker",
    "社工站（室）工作人员": "station_worker",
    "社工站工作人员": "station_worker",
    "其他": "other",
}
LEVEL_ZH = {
    "无": "none",
    "": "none",
    "助理社会工作师": "assistant",
    "社会工作师": "intermediate",
    "高级社会工作师": "senior",
}
