"""Owners: the unified `owner` as the username Chakra's `assignedTo` filter takes (A.4).

The users endpoint (`GET /v1/ext/users`) carries each user's uuid, username and e-mail,
so any of the three names a user (compared case-insensitively); a full name only
suggests the username, since two people may share one.
"""

from __future__ import annotations

import difflib

from tools.arguments import shown
from tools.backends.chakra.schema import User
from tools.errors import InvalidArgumentError

MAX_LISTED = 15


def resolve_username(users: list[User], owner: str, backend: str) -> str:
    wanted = owner.strip().casefold()
    found = {
        u.id: u
        for u in users
        if wanted in (u.username.casefold(), u.id.casefold(), (u.email or "").casefold())
    }
    if len(found) == 1:
        return next(iter(found.values())).username
    if found:
        names = ", ".join(sorted(u.username for u in found.values()))
        raise InvalidArgumentError(
            f"{backend}: owner {shown(owner)} names several users ({names})",
            field="owner",
            hint="give one of those usernames",
        )
    by_name = [u.username for u in users if wanted == (u.name or "").casefold()]
    close = difflib.get_close_matches(owner, [u.username for u in users], n=3)
    hint = "give a username, user uuid or e-mail of a user of this team"
    if by_name or close:
        hint += "; did you mean " + " or ".join(by_name or close) + "?"
    else:
        more = ", ..." if len(users) > MAX_LISTED else ""
        listed = ", ".join(u.username for u in users[:MAX_LISTED])
        hint += f"; users here: {listed}{more}"
    hint += " (list_processes rows show owners as usernames)"
    raise InvalidArgumentError(f"{backend}: no user {shown(owner)}", field="owner", hint=hint)
