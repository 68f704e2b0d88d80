"""How the OpenAPI document reads to a client generator: operation ids, feature tags, a server, enums.

Every operation gets an ``operationId`` ``<feature>_<verb>`` derived from its view (the module
``api/training.py`` names the feature, the function the verb) unless :data:`OPERATION_IDS` names it
better; its feature is its tag. Paths are relative to the one server, ``<prefix>/api/v1``, so a client
generated from any deployment calls another one given that deployment's server URL.
"""

from __future__ import annotations

from apispec import BasePlugin
from apispec.ext.marshmallow.field_converter import make_type_list

# The tags, in the order a reader meets them; an operation's tag is the feature of its operationId.
FEATURES = {
    "org": "The organisation units the caller may see.",
    "people": "People in the caller's scope, their ID numbers masked.",
    "training": "Programs, courses, sessions, enrolments, attendance and a person's hours.",
    "supervision": "Supervision records and the hours they credit (never their confidential notes).",
    "coverage": "Cohorts and the coverage report of a unit and its subtree.",
    "credentials": "Certificates a person holds, the public verification of one, issuing and printing (as jobs).",
    "jobs": "Heavy work started through the API: its state, progress and result, from any instance.",
    "users": "Accounts the caller manages: create (with a one-time password link), roles, disable, sign out.",
}

# Views whose module and name would read badly as <feature>_<name>, by endpoint (the function's name).
OPERATION_IDS = {
    "units": "org_list_units",
    "people": "people_list",
    "create_people": "people_create",
    "person": "people_get",
    "hours": "training_get_person_hours",
    "create_supervision": "supervision_create_record",
    "list_supervision": "supervision_list_records",
    "get_supervision": "supervision_get_record",
    "report": "coverage_get_report",
    "create": "coverage_create_cohort",
    "person_certificates": "credentials_list_person_certificates",
    "issue_credential": "credentials_issue",
    "print_credential": "credentials_print",
    "job": "jobs_get",
    "job_result": "jobs_get_result",
}

# Modules of app/api/ that are not named after the feature they serve.
MODULE_FEATURES = {"routes": "people", "assessments": "training"}


def operation_id(view) -> str:
    """Return the operationId of a view: an explicit one from OPERATION_IDS, else ``<feature>_<function>``."""
    name = view.__name__
    if name in OPERATION_IDS:
        return OPERATION_IDS[name]
    module = view.__module__.rpartition(".")[2]
    return f"{MODULE_FEATURES.get(module, module)}_{name}"


class OperationsPlugin(BasePlugin):
    """Write paths relative to the server and give every operation its operationId and feature tag."""

    def __init__(self, app, base_path: str):
        super().__init__()
        self.app = app
        self.base_path = base_path
        self.seen: dict[str, str] = {}

    def path_helper(self, path=None, operations=None, parameters=None, **kwargs):
        if not path.startswith(self.base_path + "/"):
            raise ValueError(f"{path} is not under the API's server {self.base_path}")
        return path[len(self.base_path) :]

    def operation_helper(self, path=None, operations=None, **kwargs):
        view = self.app.view_functions[kwargs["rule"].endpoint]
        for method, operation in operations.items():
            operation.setdefault("operationId", operation_id(view))
            identifier = operation["operationId"]
            where = f"{method.upper()} {path}"
            if self.seen.setdefault(identifier, where) != where:
                raise ValueError(f"operationId {identifier} of {where} is already {self.seen[identifier]}'s")
            operation["tags"] = [identifier.partition("_")[0]]


def nullable_enum(self, field, ret, **kwargs) -> dict:
    """Document an enum that also takes null as ``anyOf: [the enum, null]``, null not among its values.

    apispec writes ``type: [string, null]`` with null appended to the enum; generators then make one
    enum class per reading of that (openapi-python-client wrote three for CohortCreate.category).
    """
    enum = ret.get("enum")
    if not enum or None not in enum:
        return {}
    del ret["enum"]
    types = [t for t in make_type_list(ret.pop("type", None)) if t != "null"]
    choices = {"enum": [value for value in enum if value is not None]}
    if types:
        choices = {"type": types[0] if len(types) == 1 else types, **choices}
    return {"anyOf": [choices, {"type": "null"}]}
