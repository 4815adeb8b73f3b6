"""Reads of Frends objects: definition pages, one definition (by version id, guid or
guid@version), every listed definition, one execution. Ids are data, never paths: each is
checked against the shape the API documents and quoted as one path segment.

Several reads at once go through `tools.tasks.gather`, which raises the first failure as
itself (a clean BackendError), never as the ExceptionGroup an anyio task group would raise.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from tools.errors import BackendNotFoundError, BackendResponseError, InvalidArgumentError
from tools.ids import INTEGER, UUID, IdShape, check_id, path_segment
from tools.shared_cache import DISCOVERY_TTL
from tools.tasks import gather

if TYPE_CHECKING:
    from tools.backends.frends.adapter import FrendsBackend

T = TypeVar("T")
# Rows of one definitions page, its totalCount, and whether a next page exists.
Listed = tuple[list[dict[str, Any]], int | None, bool]

MAX_PAGE_SIZE = 200
# Reads in flight at once for one answer: as many as the driver's parallel pages.
PARALLEL_READS = 4
_EXAMPLE_GUID = "123e4567-e89b-12d3-a456-426614174000"

# `GET /processes/{id}`: id int64, "Process version unique identifier".
VERSION_ID = IdShape(
    "Frends process version id", INTEGER, "a whole number such as 2042 (a listed row's id)"
)
# `GET /processes/{processGuid}/versions/{processVersion}`: uuid and int32.
PROCESS_GUID = IdShape("Frends process guid", UUID, f"a uuid such as {_EXAMPLE_GUID}")
VERSION_NUMBER = IdShape("Frends process version number", INTEGER, "a whole number such as 3")
_REF = re.compile(
    rf"(?P<id>{INTEGER.pattern})"
    rf"|(?P<guid>{UUID.pattern})(?:(?:@|/versions/|/)(?P<version>{INTEGER.pattern}))?"
)
PROCESS_REF = IdShape(
    "Frends process id",
    _REF,
    f"a version id such as 2042, a process guid such as {_EXAMPLE_GUID} (its latest "
    f"version) or guid@version such as {_EXAMPLE_GUID}@3",
)
# `GET /instances/{agentGroupId}/{executionIdentifier}/details`: a uuid (the row's
# executionId; the integer `id` of a list row is not what this path takes).
EXECUTION_ID = IdShape(
    "Frends execution id",
    UUID,
    f"a uuid such as {_EXAMPLE_GUID} (the id of a row listed from an instances collection)",
)
REF_HINT = (
    "give a version id (the id of a listed row), a process guid for its latest version, "
    "or guid@version; executions need collection='instances'"
)


def paged(body: Any, backend: str) -> Listed:
    """Rows, totalCount and whether a next page exists, from a paged list answer."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BackendResponseError("unexpected processes shape (no data array)", backend=backend)
    paging = body.get("paging") or {}
    total = paging.get("totalCount")
    rows = [r for r in body["data"] if isinstance(r, dict)]
    return rows, total if isinstance(total, int) else None, bool(paging.get("nextPage"))


class Reader:
    def __init__(self, backend: FrendsBackend) -> None:
        self.backend = backend

    def checked(self, value: str, shape: IdShape, hint: str) -> str:
        """`value` if it has `shape`; the refusal quotes it scrubbed (messages are logged)."""
        try:
            return check_id(value, shape)
        except InvalidArgumentError as exc:
            scrub = self.backend.secrets.scrubber()
            raise InvalidArgumentError(scrub(exc.message), field=exc.field, hint=hint) from None

    async def page(
        self, params: list[tuple[str, str]], *, shared_ttl: float | None = None
    ) -> tuple[list[dict[str, Any]], int | None, bool]:
        body = await self.backend.http.get_json("processes", params=params, shared_ttl=shared_ttl)
        return paged(body, self.backend.name)

    async def every_definition(self) -> list[dict[str, Any]]:
        """Every row the definitions list shows; the pages after the first in parallel."""
        size = str(MAX_PAGE_SIZE)
        # The directory's pages are shared with other replicas for a while (Redis).
        ttl = DISCOVERY_TTL
        first, total, _ = await self.page([("PageNumber", "1"), ("PageSize", size)], shared_ttl=ttl)
        pages = -(-(total or 0) // MAX_PAGE_SIZE)

        def read(number: int) -> Callable[[], Awaitable[list[dict[str, Any]]]]:
            async def call() -> list[dict[str, Any]]:
                params = [("PageNumber", str(number)), ("PageSize", size)]
                return (await self.page(params, shared_ttl=ttl))[0]

            return call

        rest = await gather([read(n) for n in range(2, pages + 1)], PARALLEL_READS)
        return first + [row for rows in rest for row in rows]

    async def version(self, version_id: int) -> dict[str, Any] | None:
        """One version by id (what an execution's processId names); None when not found."""
        path = "processes/" + path_segment(str(version_id), VERSION_ID)
        try:
            # A published version never changes: shared with other replicas (Redis).
            body = await self.backend.http.get_json(path, shared_ttl=DISCOVERY_TTL)
        except BackendNotFoundError:
            return None
        return self._data(body)

    async def definition(self, ref: str) -> dict[str, Any]:
        """One definition by version id, by guid (its latest version) or by guid@version."""
        match = _REF.fullmatch(self.checked(ref, PROCESS_REF, REF_HINT))
        assert match is not None  # checked against the same pattern
        if match["id"]:
            path = "processes/" + path_segment(match["id"], VERSION_ID)
            return self._data(await self._get_or_404(path, f"no process version {ref}"))
        guid = match["guid"].lower()
        if match["version"] is None:
            return await self.latest(guid)
        path = (
            f"processes/{path_segment(guid, PROCESS_GUID)}"
            f"/versions/{path_segment(match['version'], VERSION_NUMBER)}"
        )
        return self._data(await self._get_or_404(path, f"no version {match['version']} of {guid}"))

    async def versions(self, guid: str) -> list[dict[str, Any]]:
        """What the list shows of one process: every version, or (as many tenants may
        answer) only its latest version and its draft."""
        params = [("processGuid", guid), ("PageNumber", "1"), ("PageSize", str(MAX_PAGE_SIZE))]
        return (await self.page(params))[0]

    async def numbered(self, guid: str, numbers: Sequence[int]) -> list[dict[str, Any]]:
        """Versions of `guid` by number, those that exist (the list may not show them)."""

        def read(number: int) -> Callable[[], Awaitable[dict[str, Any] | None]]:
            async def call() -> dict[str, Any] | None:
                path = (
                    f"processes/{path_segment(guid, PROCESS_GUID)}"
                    f"/versions/{path_segment(str(number), VERSION_NUMBER)}"
                )
                try:
                    return self._data(await self.backend.http.get_json(path))
                except BackendNotFoundError:
                    return None

            return call

        found = await gather([read(n) for n in numbers], PARALLEL_READS)
        return [row for row in found if row is not None]

    async def latest(self, guid: str) -> dict[str, Any]:
        rows = await self.versions(guid)
        published = [r for r in rows if not r.get("isDraft")]
        latest = [r for r in published if not r.get("isNotLatestVersion")]
        pick = latest or sorted(published, key=lambda r: r.get("version") or 0)[-1:] or rows[:1]
        if not pick:
            raise BackendNotFoundError(
                f"no process with guid {guid}", backend=self.backend.name, hint=REF_HINT
            )
        return pick[0]

    async def execution(self, group: int, group_name: str, execution: str) -> dict[str, Any]:
        hint = "give the execution id (the id of a row listed from this instances collection)"
        segment = path_segment(self.checked(execution, EXECUTION_ID, hint).lower(), EXECUTION_ID)
        body = await self._get_or_404(
            f"instances/{group}/{segment}/details",
            f"no execution {execution} in agent group {group_name}",
            hint,
        )
        return self._data(body, "instance")

    def _data(self, body: Any, what: str = "process") -> dict[str, Any]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise BackendResponseError(
                f"unexpected {what} shape (no data object)", backend=self.backend.name
            )
        return data

    async def _get_or_404(self, path: str, what: str, hint: str = REF_HINT) -> Any:
        try:
            return await self.backend.http.get_json(path)
        except BackendNotFoundError as exc:
            raise BackendNotFoundError(
                what,
                backend=self.backend.name,
                request=exc.request,
                status=exc.status,
                vendor_message=exc.vendor_message,
                hint=hint,
            ) from None
