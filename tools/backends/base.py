"""The Backend contract: what one backend kind must provide, and nothing more.

A backend states what it can do (`capabilities`), turns a query into its own request
plan (`plan`), fetches one page at a position (`fetch_page`) and fetches one process
(`get`). Everything else - limits, cursors, local filtering and its scan cap, early stop,
parallel page fetches, fan-out merging - belongs to the shared paging driver
(`tools.paging`), so it is written once.

`plan` is separate from `fetch_page` (design.md lists two verbs) because the driver must
know, before the first request, which filters still need a local check and whether the
stream is sorted so that it can stop early. A plan may call the backend once to resolve
names to ids (users, tags); those lookups are cached per instance.

Positions. `addressing` tells the driver how pages are addressed:
- "page":   integer row offsets that are multiples of the page size (page-number APIs);
            positions are computable, so pages can be fetched in parallel.
- "offset": any integer row offset (skip/limit APIs); also parallel.
- "token":  an opaque continuation (token or next link) returned by the previous page;
            sequential only. The first position is None.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from tools.arguments import shown
from tools.errors import UnsupportedQueryError
from tools.limits import RateLimit
from tools.model import Detail, FilterMode, ProcessDetail, ProcessSummary, Status
from tools.query import AttributeType, ProcessQuery

if TYPE_CHECKING:
    import httpx

    from tools.http import BackendHttp

Addressing = Literal["page", "offset", "token"]
# An "@" before the query: userinfo, or a password with a "/" in it that breaks the URL
# (`https://u:pa/ss@host`). No vendor base URL has an "@" in its path.
_USERINFO = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.-]*://[^?#]*@")
Position = int | str | None


@dataclass(frozen=True)
class FieldSupport:
    """How a backend applies one query field."""

    mode: FilterMode
    note: str | None = None


@dataclass(frozen=True)
class Paging:
    """How one collection pages, when it differs from its backend's default."""

    addressing: Addressing
    max_page_size: int
    parallel_pages: int = 1
    total_known: bool = False


@dataclass(frozen=True)
class CollectionInfo:
    """One collection (runs, leads, a Chakra procedure, ...) and what it supports."""

    name: str
    description: str
    fields: Mapping[str, FieldSupport]
    # The orders the backend can give. Empty: the vendor documents none, so rows come in
    # its own order and `plan` ignores `query.sort`. The tools then refuse an explicit
    # sort, and the driver says so, never stops early on a date bound, and leaves such an
    # instance out of a fan-out (its rows cannot be merged by a sort key).
    sorts: tuple[str, ...]
    statuses: Mapping[str, Status] = field(default_factory=dict)
    sections: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)
    # The JSON type of attributes whose type is known, so the driver can refuse a `where`
    # value that could never match (a string against a number); others are unchecked.
    attribute_types: Mapping[str, AttributeType] = field(default_factory=dict)
    # Paging that differs from the backend's (e.g. Frends: page numbers for definitions,
    # continuation tokens for executions). None: the backend's Capabilities hold.
    paging: Paging | None = None

    def support(self, name: str) -> FieldSupport:
        return self.fields.get(name, FieldSupport("unsupported"))


@dataclass(frozen=True)
class Capabilities:
    kind: str
    collections: tuple[CollectionInfo, ...]
    default_collection: str
    max_page_size: int
    addressing: Addressing
    # How many pages the driver may have in flight at once for one query.
    parallel_pages: int = 1
    total_known: bool = False

    def collection(self, name: str | None) -> CollectionInfo | None:
        wanted = name or self.default_collection
        return next((c for c in self.collections if c.name == wanted), None)

    def for_collection(self, name: str | None) -> Capabilities:
        """These capabilities with the collection's own paging, if it has one."""
        info = self.collection(name)
        if info is None or info.paging is None:
            return self
        p = info.paging
        return replace(
            self,
            addressing=p.addressing,
            max_page_size=p.max_page_size,
            parallel_pages=p.parallel_pages,
            total_known=p.total_known,
        )


@dataclass(frozen=True)
class RowParts:
    """The parts of a row that cost the most to build and that only some answers read:
    the extras (shown at detail=full or in an extra column), the attributes a `where`
    filter tests, the further text a `text` filter searches, and names where a vendor
    makes us look them up (Frends executions name only a version id). A part not needed
    is left empty; the default builds every part."""

    extra: bool = True
    attributes: bool = True
    search_text: bool = True
    names: bool = True

    @classmethod
    def of(cls, query: ProcessQuery) -> RowParts:
        return cls(
            query.wants_extra(),
            query.where is not None,
            query.text is not None,
            query.wants_names(),
        )


@dataclass
class Plan:
    """A query translated for one backend instance."""

    collection: str
    # Backend-private translation (query parameters, body, ...).
    native: Any
    # How each filter the query uses is applied: native, narrowed or local.
    applied: dict[str, FieldSupport]
    sort: str
    warnings: list[str] = field(default_factory=list)
    # What each row must carry for this query's answer and local filters.
    parts: RowParts = field(default_factory=RowParts)

    @property
    def local_fields(self) -> list[str]:
        """Fields the engine must check row by row (narrowed and local ones)."""
        return [f for f, s in self.applied.items() if s.mode in ("narrowed", "local")]


@dataclass(frozen=True)
class Count:
    """A vendor's total for one plan, and the first matching row when the answer carried
    one (the summarizer checks that it shows the group it was counted for)."""

    total: int
    sample: ProcessSummary | None = None


@dataclass
class PageResult:
    rows: list[ProcessSummary]
    # Where the next page starts; None when the stream has ended.
    next: Position
    total: int | None = None


def normalised_url(url: str) -> str:
    """A base URL as one account key: scheme and host lower-cased, the default port and
    a trailing slash dropped (`HTTPS://Acme.Kommo.com:443/` is `https://acme.kommo.com`)."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port if parts.port not in (None, _DEFAULT_PORTS.get(scheme)) else None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


_DEFAULT_PORTS = {"http": 80, "https": 443}


class InstanceSettings(BaseModel):
    """Settings every instance has; backends extend this with their own keys."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str
    base_url: str
    description: str | None = None
    token: SecretStr | None = Field(
        None, description="Filled from the environment or secrets file."
    )
    rate_limit_per_minute: int | None = None
    # The span rate_limit_per_minute is counted over (60 s, as the name says); shorter
    # only for a sandbox started with a shorter Tallyfy window (`sandbox --tallyfy-window`).
    rate_limit_window_seconds: float = Field(60.0, gt=0)
    timeout_seconds: float = 20.0
    max_scan: int = 5000

    @field_validator("base_url", check_fields=False)
    @classmethod
    def _no_userinfo(cls, value: str) -> str:
        # `https://user:pass@host` would put a password in a file and in every printed URL,
        # and httpx would send it as Basic auth in place of the configured token.
        if _USERINFO.match(value):
            raise ValueError(
                "base_url must not carry a user name or password (user:pass@); remove "
                "them: credentials belong in the environment (PROCESS_MCP_<NAME>_TOKEN) "
                "or the secrets file, never in the config"
            )
        return value


class Backend(ABC):
    """One configured instance of a backend kind."""

    kind: ClassVar[str]
    # The vendor's name for people: quota notes and progress ("waiting 41 s for Tallyfy's
    # quota"). None: the kind, capitalised.
    vendor_name: ClassVar[str | None] = None
    settings_model: ClassVar[type[InstanceSettings]] = InstanceSettings
    # Names of settings that are secrets: read only from the environment or a secrets file.
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)
    default_rate_limit: ClassVar[RateLimit | None] = None
    # Pulls the vendor's own message out of an error response (None: the generic one).
    error_message: ClassVar[Callable[[httpx.Response], str | None] | None] = None
    # Reads how long a 429/503 asks to wait, in seconds (None: the Retry-After header).
    retry_after: ClassVar[Callable[[httpx.Response], float | None] | None] = None

    def __init__(self, settings: InstanceSettings, http: BackendHttp) -> None:
        self.settings = settings
        self.name = settings.name
        self.http = http

    @classmethod
    def vendor(cls) -> str:
        return cls.vendor_name or cls.kind.capitalize()

    @classmethod
    def account_key(cls, settings: InstanceSettings) -> str:
        """Which vendor account an instance points at: instances with the same key share
        one quota window (and shared cache entries) whatever their names. The base URL
        (normalised); backends whose account is not in the URL add what names it (the
        Tallyfy org, the yuuvis tenant)."""
        return f"{cls.kind}|{normalised_url(settings.base_url)}"

    @classmethod
    @abstractmethod
    def client_headers(cls, settings: InstanceSettings) -> dict[str, str]:
        """Headers for every request, credentials included (never logged)."""

    async def discover(self) -> None:
        """Load, once per instance, whatever `capabilities()` depends on (for example
        Chakra's procedures and attributes from its config endpoint). The tools await it
        before they read capabilities; the default has nothing to load."""
        return None

    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abstractmethod
    async def plan(self, query: ProcessQuery) -> Plan: ...

    @abstractmethod
    async def fetch_page(self, plan: Plan, at: Position, size: int) -> PageResult: ...

    @abstractmethod
    async def get(
        self,
        process_id: str,
        *,
        collection: str | None,
        include: frozenset[str] | None,
        detail: Detail,
    ) -> ProcessDetail: ...

    # Extension of the backend's own export form (Frends: "bpmn"); None when it has none.
    native_format: ClassVar[str | None] = None

    async def native_export(
        self, process_id: str, *, collection: str | None
    ) -> tuple[str, bytes] | None:
        """The process whole, in the vendor's own form: (file extension, content), secrets
        redacted. None where the backend has no such form (the default)."""
        return None

    async def suggest(self, field_name: str, collection: str | None) -> Sequence[str]:
        """Values worth offering when a person types `field_name` ("collection",
        "native_status", "include", "template", "owner") for `collection` (None: the
        default one). Completions call this through a TTL cache (tools.suggest), never per
        keystroke, so one directory request per refresh is fine here.

        The default offers what `capabilities()` already says: collection names, native
        statuses and get_process sections. A backend with a template or user directory
        overrides it for "template" and "owner" (names a filter accepts)."""
        caps = self.capabilities()
        if field_name == "collection":
            return [c.name for c in caps.collections]
        info = caps.collection(collection)
        if info is None:
            return []
        if field_name == "native_status":
            return list(info.statuses)
        if field_name == "include":
            return list(info.sections)
        return []

    def reports_totals(self, collection: str | None) -> bool:
        """Whether the vendor reports a total for a list of `collection`, so that `count`
        answers (list_backends shows it: how summarize_processes counts there)."""
        caps = self.capabilities().for_collection(collection)
        return caps.total_known and caps.addressing != "token"

    async def count(self, plan: Plan) -> Count | None:
        """How many rows `plan` matches, from the vendor's own total, in one cheap request;
        None where the vendor reports no total for this collection (Chakra, Kommo,
        continuation-token lists). The summarizer (tools/summarize.py) calls it only for
        plans with no local check, so the total is exact for the query.

        The default reads the total of a one-row first page; a backend whose list pages are
        heavy can send a lighter request (Tallyfy drops `with` and `sort`)."""
        if not self.reports_totals(plan.collection):
            return None
        page = await self.fetch_page(plan, 0, 1)
        if page.total is None:
            return None
        return Count(page.total, page.rows[0] if page.rows else None)

    async def check(self) -> str:
        """Reach the backend with the smallest real call; return a short description."""
        await self.discover()
        query = ProcessQuery(backend=self.name, limit=1)
        plan = await self.plan(query)
        caps = self.capabilities().for_collection(plan.collection)
        page = await self.fetch_page(plan, 0 if caps.addressing != "token" else None, 1)
        total = f"{page.total} processes" if page.total is not None else "reachable"
        return f"ok, {total} in {plan.collection}"

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- helpers for implementations -------------------------------------------------------

    def collection_info(self, name: str | None) -> CollectionInfo:
        caps = self.capabilities()
        info = caps.collection(name)
        if info is None:
            known = ", ".join(c.name for c in caps.collections)
            raise UnsupportedQueryError(
                f"{self.name} has no collection {shown(name)}",
                backend=self.name,
                field="collection",
                hint=f"use one of: {known} (or leave collection out for {caps.default_collection})",
            )
        return info

    def refuse(self, info: CollectionInfo, field_name: str, reason: str | None = None) -> None:
        """Raise the standard refusal for a filter this collection cannot apply."""
        usable = [f for f, s in info.fields.items() if s.mode != "unsupported"]
        raise UnsupportedQueryError(
            f"{self.name} ({self.kind}, {info.name}) cannot filter by {field_name}"
            + (f": {reason}" if reason else ""),
            backend=self.name,
            field=field_name,
            hint="drop it; filters that work here: " + ", ".join(usable),
        )
