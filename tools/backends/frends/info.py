"""What each Frends collection supports: the `CollectionInfo` the driver and list_backends read."""

from __future__ import annotations

from collections.abc import Callable

from tools.backends.base import CollectionInfo, FieldSupport, Paging
from tools.backends.frends import convert
from tools.backends.frends.convert import NATIVE_STATES
from tools.errors import InvalidArgumentError, UnsupportedQueryError
from tools.query import AttributeType, ProcessQuery

PROCESS_SECTIONS = ("tasks", "variables", "definition", "history")
INSTANCE_SECTIONS = ("fields", "definition")
PROCESS_ATTRIBUTES = {
    "version": "version number",
    "latest": "true for the latest published version",
    "draft": "true for a draft",
    "subprocess": "true for a subprocess",
    "guid": "process guid, shared by all its versions",
}
INSTANCE_ATTRIBUTES = {
    "version": "executed version number",
    "child": "true when started by a parent process",
    "acknowledged": "true for an acknowledged failure",
    "trigger": "trigger name",
    "agent": "agent name",
}
PROCESS_ATTRIBUTE_TYPES: dict[str, AttributeType] = {
    "version": "number",
    "latest": "boolean",
    "draft": "boolean",
    "subprocess": "boolean",
    "guid": "text",
}
INSTANCE_ATTRIBUTE_TYPES: dict[str, AttributeType] = {
    "version": "number",
    "child": "boolean",
    "acknowledged": "boolean",
    "trigger": "text",
    "agent": "text",
}

STATE_FILTER = {
    frozenset({"Running"}): "ShowRunning",
    frozenset({"Ok"}): "ShowSuccessful",
    frozenset({"Failed"}): "ShowFailed",
    frozenset({"Ok", "Failed"}): "ShowFinished",
}
_NO_TAGS = FieldSupport("unsupported", "no tags in the Frends API")
_NO_DUE = FieldSupport("unsupported", "Frends processes and executions have no due date")
_DEFINITION_PAGING = Paging("page", 200, parallel_pages=4, total_known=True)
_EXECUTION_PAGING = Paging("token", 200, parallel_pages=1, total_known=False)


def processes_info(name_match: str) -> CollectionInfo:
    if name_match == "substring":
        text = FieldSupport("narrowed", "processName searched, names re-checked")
    else:
        text = FieldSupport(
            "local",
            "processName may match whole names only (undocumented), so names are checked "
            "here; set process_name_match: substring if your tenant searches substrings",
        )
    return CollectionInfo(
        name="processes",
        description="Process definitions as the tenant lists them, newest first: each "
        "process's latest version and its draft (some tenants list every version). The id "
        "is the version id; get_process also takes a process guid (latest version) or "
        "guid@version (any version, listed or not).",
        fields={
            "status": FieldSupport("unsupported", "definitions have no status; see native_status"),
            "native_status": FieldSupport(
                "local", "latest, previous or draft (previous where older versions are listed)"
            ),
            "text": text,
            "template": FieldSupport("native", "a process guid, sent as processGuid"),
            "owner": FieldSupport("local", "the version's modifier"),
            "created_after": FieldSupport("local", "the version's modified time; early stop"),
            "created_before": FieldSupport("local", "the version's modified time"),
            "updated_after": FieldSupport(
                "unsupported", "a version is immutable: use created_after (its modified time)"
            ),
            "updated_before": FieldSupport(
                "unsupported", "a version is immutable: use created_before (its modified time)"
            ),
            "tags": _NO_TAGS,
            "due_after": _NO_DUE,
            "due_before": _NO_DUE,
            "where": FieldSupport("local", "attributes: " + ", ".join(PROCESS_ATTRIBUTES)),
        },
        sorts=("-created_at",),
        sections=PROCESS_SECTIONS,
        attributes=PROCESS_ATTRIBUTES,
        attribute_types=PROCESS_ATTRIBUTE_TYPES,
        paging=_DEFINITION_PAGING,
    )


def instances_info(name: str, label: str) -> CollectionInfo:
    return CollectionInfo(
        name=name,
        description=f"Executions (process instances) in agent group {label}, newest first, "
        "each named after the version it ran (read by its version id). The id is the "
        "execution id; pass this collection to get_process.",
        fields={
            "status": FieldSupport("native", "stateFilter; open+failed or open+completed narrowed"),
            "native_status": FieldSupport("native", "Running, Ok or Failed, as stateFilter"),
            "text": FieldSupport(
                "narrowed",
                "processes whose name contains it, as processGuids; the executed version's "
                "name re-checked",
            ),
            "template": FieldSupport("native", "a process guid, or a name resolved to guids"),
            "owner": FieldSupport("local", "the user who started it by hand"),
            "created_after": FieldSupport("narrowed", "startTime; early stop"),
            "created_before": FieldSupport("local", "start time"),
            "updated_after": FieldSupport("local", "end time (start time while running)"),
            "updated_before": FieldSupport("local", "end time (start time while running)"),
            "tags": _NO_TAGS,
            "due_after": _NO_DUE,
            "due_before": _NO_DUE,
            "where": FieldSupport("local", "attributes: " + ", ".join(INSTANCE_ATTRIBUTES)),
        },
        sorts=("-created_at",),
        statuses=NATIVE_STATES,
        sections=INSTANCE_SECTIONS,
        attributes=INSTANCE_ATTRIBUTES,
        attribute_types=INSTANCE_ATTRIBUTE_TYPES,
        paging=_EXECUTION_PAGING,
    )


def state_filter(
    backend: str, query: ProcessQuery, warnings: list[str], quote: Callable[[str], str]
) -> tuple[str, FieldSupport]:
    """The stateFilter for a status / native_status filter, and how exactly it applies."""
    natives = {n.casefold(): n for n in convert.NATIVE_STATES}
    if query.native_status is not None:
        unknown = [v for v in query.native_status if v.casefold() not in natives]
        if unknown:
            raise InvalidArgumentError(
                f"{backend}: unknown execution state {', '.join(map(quote, unknown))}",
                field="native_status",
                hint="Frends execution states are: " + ", ".join(convert.NATIVE_STATES),
            )
    if query.status is not None:
        usable = [s for s in query.status if s in convert.NATIVE_STATES.values()]
        if not usable:
            raise UnsupportedQueryError(
                f"{backend}: Frends executions are never {', '.join(query.status)}",
                backend=backend,
                field="status",
                hint="statuses here are open (running), completed (successful) and failed",
            )
        if len(usable) < len(query.status):
            missing = sorted(set(query.status) - set(usable))
            warnings.append(f"no Frends execution is ever {', '.join(missing)}")
    wanted = frozenset(
        native
        for native, unified in convert.NATIVE_STATES.items()
        if (query.status is None or unified in query.status)
        and (
            query.native_status is None
            or native.casefold() in {v.casefold() for v in query.native_status}
        )
    )
    if not wanted:
        raise InvalidArgumentError(
            f"{backend}: status and native_status exclude each other, so nothing can match",
            field="native_status",
            hint="Frends maps "
            + ", ".join(f"{n}->{u}" for n, u in convert.NATIVE_STATES.items())
            + "; keep only one of the two filters",
        )
    if wanted in STATE_FILTER:
        return STATE_FILTER[wanted], FieldSupport("native", f"stateFilter={STATE_FILTER[wanted]}")
    if len(wanted) == len(convert.NATIVE_STATES):
        return "ShowAll", FieldSupport("native", "stateFilter=ShowAll")
    return "ShowAll", FieldSupport("narrowed", f"{', '.join(sorted(wanted))} checked locally")
