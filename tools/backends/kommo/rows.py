"""Kommo objects -> canonical rows, and the vendor-specific readers of error responses.

Row choices:
- leads: `status` from the status id (142 completed, 143 cancelled, else open);
  `native_status` is the stage NAME, looked up by (pipeline_id, status_id) because stage
  ids 142/143 repeat in every pipeline; `template` is the pipeline name;
- customers: no unified status (Kommo gives them no won/lost); `native_status` is the
  customer status id (our reference documents no endpoint that names them);
- contacts, companies: no status at all;
- owner is the responsible user's email (their name when there is no email);
- `due_at`: the closest task's date (customers: the expected next purchase date);
- `where` attributes: each custom field by name AND by id (plus `price` on leads); select
  fields give their option text, checkboxes booleans, numeric fields numbers (Kommo sends
  them as strings), multitext (phones, emails) the first value;
- `search_text`: every value of the text-like custom fields (text, textarea, url,
  multitext), which Kommo's `query` searches besides the name ("free-text search over
  filled fields", reference section 2), so a local `text` re-check keeps every row Kommo's
  own search found (a lead whose company is typed into a Company text field).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from tools import decode
from tools.backends.kommo.directory import ApiBlockedError, Pipeline, Stage, User, unified_status
from tools.backends.kommo.shapes import CustomField, FullRow, Row
from tools.errors import BackendAuthError, BackendRequestError
from tools.model import ProcessSummary

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
NUMBER_TYPES = frozenset({"numeric", "date", "date_time", "birthday", "monetary"})
# The custom-field types whose values `text` (Kommo's `query`) searches besides the name.
SEARCHED_TYPES = frozenset({"text", "textarea", "url", "multitext"})
MAX_VALUE_CHARS = 500
BLOCK_MARK = "Kommo API block page"


class Lookups:
    """What converting rows needs from the account: stages by (pipeline, id), users."""

    def __init__(self, pipelines: tuple[Pipeline, ...], users: tuple[User, ...]) -> None:
        self.pipelines = {p.id: p for p in pipelines}
        self.stages: dict[tuple[int, int], Stage] = {
            (p.id, s.id): s for p in pipelines for s in p.stages
        }
        self.users = {u.id: u for u in users}


def when(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def _number(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        number = float(str(value))
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def field_value(cf: CustomField, *, every: bool = False) -> Any:
    """One custom field's value for `where` (the first value), or every value (detail)."""
    items = [v.value for v in cf.values or ()]
    if not items:
        return None
    kind = cf.field_type
    if kind == "checkbox":
        flag = items[0]
        return flag in (True, 1, "1", "true") if not isinstance(flag, bool) else flag
    if kind in NUMBER_TYPES:
        items = [_number(v) for v in items]
    if kind == "multiselect" or (every and len(items) > 1):
        return items
    return items[0]


def as_row(raw: Row | Mapping[str, Any], backend: str) -> Row:
    """A row decoded from a list page as is; an object read whole (a single get) as the
    full row shape."""
    return decode.row(raw, Row, FullRow, backend=backend)


def custom_fields(row: Row) -> list[CustomField]:
    return (row.custom_fields_values or []) if isinstance(row, FullRow) else []


def search_text(row: Row) -> list[str]:
    """Every value of the row's text-like custom fields, as `text` searches them."""
    return [
        str(v.value)
        for cf in custom_fields(row)
        if cf.field_type in SEARCHED_TYPES
        for v in cf.values or ()
        if v.value not in (None, "")
    ]


def attributes(entity: str, row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cf in custom_fields(row):
        value = field_value(cf)
        if value is None:
            continue
        if cf.field_name is not None:
            out.setdefault(cf.field_name, value)
        if cf.field_id is not None:
            out[str(cf.field_id)] = value
    if entity == "leads" and isinstance(row, FullRow) and row.price is not None:
        out["price"] = _number(row.price)
    return out


def to_summary(
    backend: str,
    entity: str,
    raw: Row | Mapping[str, Any],
    look: Lookups,
    *,
    full: bool = True,
    with_attributes: bool = True,
    with_search_text: bool = True,
) -> ProcessSummary:
    """One row. `full=False` skips the extras, which only detail="full" (or an extra
    column) shows; the `where` attributes and the searched text likewise, for queries
    whose filters do not read them. Each needs the row decoded as a FullRow."""
    row = as_row(raw, backend)
    owner_id = row.responsible_user_id
    owner = look.users.get(owner_id) if owner_id is not None else None
    embedded = row.embedded
    tags = [t.name for t in (embedded.tags or ()) if t.name] if embedded else []
    status = native = template = template_id = None
    due = when(row.closest_task_at)
    if entity == "leads":
        status_id, pipeline_id = row.status_id, row.pipeline_id
        status = unified_status(status_id)
        stage = look.stages.get((pipeline_id or 0, status_id or 0))
        native = stage.name if stage else (str(status_id) if status_id is not None else None)
        pipeline = look.pipelines.get(pipeline_id or 0)
        template = pipeline.name if pipeline else None
        template_id = str(pipeline_id) if pipeline_id is not None else None
    elif entity == "customers":
        native = str(row.status_id) if row.status_id is not None else None
        due = when(row.next_date)
    summary = ProcessSummary(
        backend=backend,
        collection=entity,
        id=str(row.id),
        name=row.name or "",
        status=status,
        native_status=native,
        template=template,
        template_id=template_id,
        owner=owner.label if owner else None,
        owner_id=str(owner_id) if owner_id is not None else None,
        tags=tags or None,
        created_at=when(row.created_at),
        updated_at=when(row.updated_at),
        due_at=due,
        extra=_extra(entity, row) if full and isinstance(row, FullRow) else None,
    )
    if with_attributes:
        summary.with_attributes(attributes(entity, row))
    if with_search_text:
        summary.with_search_text(search_text(row))
    return summary


def _extra(entity: str, row: FullRow) -> dict[str, Any]:
    extra: dict[str, Any] = {"created_by": row.created_by, "updated_by": row.updated_by}
    if entity == "leads":
        extra |= {
            "price": row.price,
            "status_id": row.status_id,
            "closed_at": _iso(row.closed_at),
            "loss_reason_id": row.loss_reason_id,
            "score": row.score,
        }
    elif entity == "customers":
        extra |= {
            "next_price": row.next_price,
            "ltv": row.ltv,
            "purchases_count": row.purchases_count,
            "periodicity": row.periodicity,
        }
    if entity in ("leads", "contacts"):
        companies = row.embedded.companies if row.embedded else None
        extra["companies"] = [c.id for c in companies or ()] or None
    extra["custom_fields"] = {
        str(cf.field_name): _short(field_value(cf, every=True)) for cf in custom_fields(row)
    }
    return {k: v for k, v in extra.items() if v not in (None, "", [], {})}


def _iso(value: Any) -> str | None:
    moment = when(value)
    return moment.isoformat() if moment else None


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[:MAX_VALUE_CHARS] + "…"
    return value


# -- error responses -------------------------------------------------------------------------


async def vendor_read(backend: str, read: Callable[[], Awaitable[T]]) -> T:
    """`read`, with Kommo-specific failures given clear messages."""
    try:
        return await read()
    except BackendAuthError as exc:
        if exc.status == 403 and (exc.vendor_message or "").startswith(BLOCK_MARK):
            raise ApiBlockedError(
                "Kommo has blocked API access for this account or IP address (it answers "
                "with an HTML 403 page instead of the API)",
                backend=backend,
                request=exc.request,
                status=403,
                vendor_message=exc.vendor_message,
                hint="Kommo blocks clients after repeated 429s (more than 7 requests per "
                "second); the block stays until Kommo support lifts it. Contact support, "
                "and keep this instance at 7 requests per second or fewer.",
            ) from None
        raise
    except BackendRequestError as exc:
        if exc.status == 402:
            raise BackendRequestError(
                "Kommo answered 402 Payment Required: the subscription or trial has "
                "ended, or this entity (customers) is not enabled on the plan",
                backend=backend,
                request=exc.request,
                status=402,
                vendor_message=exc.vendor_message,
                hint="renew the Kommo plan or switch customers on; leads, contacts and "
                "companies may still work",
            ) from None
        raise


def kommo_error_message(response: httpx.Response) -> str | None:
    """problem+json `title`/`detail`/`validation-errors` (the shared reader knows them),
    the legacy `{"response": {"error", "error_code"}}` shape, the 429's `retry_after`, and
    the API block: an HTML 403 page instead of JSON."""
    from tools.http import default_error_message

    if response.status_code == 403 and _looks_html(response):
        title = default_error_message(response) or "HTML page"
        return f"{BLOCK_MARK} ({title.removeprefix('HTML page: ')})"
    body = _json(response)
    if isinstance(body, dict):
        legacy = body.get("response")
        if isinstance(legacy, dict) and legacy.get("error"):
            code = legacy.get("error_code")
            return f"{legacy['error']}" + (f" (code {code})" if code is not None else "")
        message = default_error_message(response)
        wait = body.get("retry_after")
        if response.status_code == 429 and wait is not None:
            return f"{message or 'Too Many Requests'} (retry after {wait} s)"
        return message
    return default_error_message(response)


def kommo_retry_after(response: httpx.Response) -> float | None:
    """Kommo puts the wait in the 429 body (`retry_after`); a `Retry-After` header, which
    Kommo does not document, wins when present."""
    from tools.http import header_retry_after

    header = header_retry_after(response)
    if header is not None:
        return header
    body = _json(response)
    if isinstance(body, dict):
        value = body.get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
        if isinstance(value, str):
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content) if response.content.strip() else None
    except ValueError:
        return None


def _looks_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    return response.content.lstrip()[:15].lower().startswith((b"<html", b"<!doctype html"))
