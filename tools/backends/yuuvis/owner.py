"""The owner filter for yuuvis: `startedBy`, which takes a user id (reference D, seed 003).

The engine has no user directory, so a name or an e-mail cannot be looked up: an owner is
either a user id (a uuid, as the engine's `startUserId` values are) or the configured user
(its `username` or `user_id`); anything else is refused with how to find the id, since a
startedBy naming no user id would silently answer an empty list. An ordinary user sees only
their own processes and gets 400 for startedBy naming anybody else, so that is never sent:
another user's id is refused, and without `user_id` configured an id is checked locally.
"""

from __future__ import annotations

from tools.arguments import shown
from tools.backends.base import FieldSupport
from tools.backends.yuuvis.info import YuuvisSettings
from tools.errors import UnsupportedQueryError
from tools.ids import UUID

Params = list[tuple[str, str]]
EXAMPLE_ID = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"


def plan_owner(
    settings: YuuvisSettings, backend: str, owner: str, params: Params, warnings: list[str]
) -> FieldSupport:
    s = settings
    wanted = owner.strip()
    if wanted.casefold() in {x.casefold() for x in (s.user_id, s.username) if x}:
        return _configured_user(s, backend, wanted, params)
    if not UUID.fullmatch(wanted):
        raise _not_an_id(s, backend, wanted)
    # startedBy is compared exactly; user ids from the identity provider (Keycloak) are
    # lower-case UUIDs, while our owner filter ignores case.
    wanted = wanted.lower()
    if s.is_admin:
        params.append(("startedBy", wanted))
        return FieldSupport("native", "startedBy")
    if s.user_id:
        raise UnsupportedQueryError(
            f"{backend} signs in as user {s.user_id} without tenant-admin rights: the "
            "engine lists only that user's own processes and refuses startedBy for "
            f"anybody else ({shown(wanted)} is another user)",
            backend=backend,
            field="owner",
            hint=f"drop owner (every process listed here was started by {s.user_id}), "
            f"use owner={s.user_id}, or configure a tenant-admin account "
            "(is_admin = true) to see other users' processes",
        )
    warnings.append(
        "this account is not a tenant admin, so the engine lists only its own processes: "
        "the owner filter matches only if it names this account's user id (set user_id "
        "in the configuration to have it sent, or is_admin for an admin account)"
    )
    return FieldSupport("local", "startedBy not sent (caller's id unknown); checked locally")


def _configured_user(s: YuuvisSettings, backend: str, wanted: str, params: Params) -> FieldSupport:
    """The account itself, by login name or id."""
    if s.user_id:
        params.append(("startedBy", s.user_id))
        return FieldSupport("native", f"startedBy {s.user_id} (this account's own id)")
    if not s.is_admin:
        return FieldSupport("native", "nothing sent: this account lists only its own processes")
    raise UnsupportedQueryError(
        f"{backend}: owner {shown(wanted)} is this account's login name, but startedBy takes a "
        "user id and the user_id of this account is not configured",
        backend=backend,
        field="owner",
        hint="set user_id in the instance's configuration (list_processes with "
        'fields ["owner"] shows it on every process this account started), or pass the '
        "user id as owner",
    )


def _not_an_id(s: YuuvisSettings, backend: str, wanted: str) -> UnsupportedQueryError:
    own = (
        f"; for this account's own processes use owner={s.user_id or s.username}"
        if (s.user_id or s.username)
        else ""
    )
    # Summary rows leave out an owner that is only an id (tools/fields.py): ask for it.
    scope = (
        'list_processes with fields ["owner"] shows every user\'s id in the owner column'
        if s.is_admin
        else "this account sees only its own processes, so other users' ids come from "
        "the identity provider's user list (e.g. Keycloak)"
    )
    return UnsupportedQueryError(
        f"{backend}: owner {shown(wanted)} is not a user id: the engine filters by startedBy, "
        "a user id, and has no user directory to look a name or e-mail up",
        backend=backend,
        field="owner",
        hint=f"pass the user's id (a uuid such as {EXAMPLE_ID}): {scope}{own}",
    )
