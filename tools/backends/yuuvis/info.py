"""yuuvis settings, what the `instances` collection supports, and the engine's errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import model_validator

from tools.backends.base import CollectionInfo, FieldSupport, InstanceSettings
from tools.backends.yuuvis.translate import NATIVE_STATUS, WHERE_KEYS, WHERE_TYPES
from tools.model import human_duration as model_duration

if TYPE_CHECKING:
    import httpx

SORTS = {"created_at": "asc", "-created_at": "desc"}
SECTIONS = ("variables", "tasks")
_NO_DUE = FieldSupport("unsupported", "instances have no due date (their tasks do)")


class YuuvisSettings(InstanceSettings):
    """`token` (the one secret) is the bearer token, or with `auth = "basic"` the password."""

    kind: str = "yuuvis"
    tenant: str
    auth: Literal["bearer", "basic"] = "bearer"
    username: str | None = None
    # The caller's user id as the engine records it (startUserId), and whether the account
    # is a tenant admin: both decide what startedBy may name (see the module docstring).
    user_id: str | None = None
    is_admin: bool = False

    @model_validator(mode="after")
    def _basic_needs_username(self) -> YuuvisSettings:
        if self.auth == "basic" and not self.username:
            raise ValueError("auth = 'basic' needs username (the password is the token secret)")
        return self


def human_duration(millis: int) -> str:
    """`3d 4h`, `2h 5m`, `4m 10s`: the two largest units, enough to compare at a glance."""
    return model_duration(max(0, millis) / 1000)


def yuuvis_error_message(response: httpx.Response) -> str | None:
    """The yuuvis core error JSON: `message` plus any `validationErrors`; 401s from the
    gateway may come without a body, so say what to check."""
    from tools.http import default_error_message

    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    message: str | None = None
    if isinstance(body, dict):
        message = body.get("message") if isinstance(body.get("message"), str) else None
        details = [
            str(e.get("message"))
            for e in body.get("validationErrors") or []
            if isinstance(e, dict) and e.get("message")
        ]
        if details:
            message = f"{message or 'validation failed'} ({'; '.join(details)})"
    if message is None:
        message = default_error_message(response)
    if response.status_code == 401:
        check = "check the credentials and the tenant (sent as X-ID-TENANT-NAME)"
        message = f"{message}; {check}" if message else f"unauthorized: {check}"
    elif response.status_code == 400 and message and "startedBy" in message:
        message += "; this account is not a tenant admin (check is_admin in the configuration)"
    return message or None


def instances_info(settings: YuuvisSettings) -> CollectionInfo:
    if settings.is_admin:
        owner = FieldSupport("native", "startedBy (a user id)")
    elif settings.user_id:
        owner = FieldSupport(
            "native", f"only this account's own id ({settings.user_id}): it is not an admin"
        )
    else:
        owner = FieldSupport("local", "not an admin and user_id not configured: checked locally")
    narrowed_dates = "startedAfter/startedBefore, re-checked (bound inclusiveness undocumented)"
    return CollectionInfo(
        name="instances",
        description=(
            "Process instances of the BPM engine (Flowable) that this account may see: an "
            "ordinary user sees only the instances they started, a tenant admin all (should "
            "an admin see only their own, owner lists another user's). Sub-process "
            "instances (call activities) are left out, and answers say so: "
            'where="excludeSubprocesses = false" lists them too. owner is a user id '
            "(the engine has no user directory) or this account's login name. "
            "updated = end time of ended instances."
        ),
        fields={
            "status": FieldSupport("native", "isCompleted/suspended; completed alone narrowed"),
            "native_status": FieldSupport("native", "running, suspended, completed, deleted"),
            "text": FieldSupport("narrowed", "nameLikeIgnoreCase=%text%; names re-checked"),
            "created_after": FieldSupport("narrowed", narrowed_dates),
            "created_before": FieldSupport("narrowed", narrowed_dates),
            "owner": owner,
            "template": FieldSupport("native", "processDefinitionKey; a name is resolved"),
            "due_after": _NO_DUE,
            "due_before": _NO_DUE,
            "where": FieldSupport(
                "native",
                "documented parameters natively, other row keys locally (see attributes)",
            ),
        },
        sorts=tuple(SORTS),
        statuses=NATIVE_STATUS,
        sections=SECTIONS,
        attributes=WHERE_KEYS,
        attribute_types=WHERE_TYPES,
    )
