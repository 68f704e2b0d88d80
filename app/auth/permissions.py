"""Roles and what each may do, named once.

A role is held over one unit's subtree (a Moodle-style context); a
permission names what a group of roles may do there. Routes and services ask
for a permission, never for a list of roles, and scoped queries take the
roles of a permission (``in_scope(user, column, roles_for(TEACH))``).
"""

from __future__ import annotations

ROLES = ("admin", "coordinator", "supervisor", "instructor", "trainee")

MANAGE = "manage"  # people, units, programs, courses, enrolment, cohorts, coverage, credentials
TEACH = "teach"  # rosters and attendance of sessions
SUPERVISE = "supervise"  # see and record supervision
ADMINISTER = "administer"  # the whole tree: users, transfers, ID numbers in full
STAFF = "staff"  # work for the academy: see one's units, hold API tokens

GRANTS: dict[str, tuple[str, ...]] = {
    MANAGE: ("admin", "coordinator"),
    TEACH: ("admin", "coordinator", "instructor"),
    SUPERVISE: ("admin", "coordinator", "supervisor"),
    ADMINISTER: ("admin",),
    STAFF: ("admin", "coordinator", "supervisor", "instructor"),
}


def roles_for(permission: str) -> tuple[str, ...]:
    """Return the roles that hold ``permission``."""
    return GRANTS[permission]


def can(user, permission: str) -> bool:
    """Return whether ``user`` holds ``permission`` somewhere in the tree."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_role(*roles_for(permission))
