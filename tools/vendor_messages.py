"""What a vendor's error response says: its message, for the model, and how long it asks
us to wait. Pure functions over an httpx.Response, shared by every adapter; the client
scrubs secrets from what they return before it cuts it to length.

Readers return the whole message, never a cut one: a secret the vendor echoed that
straddled a cut would lose its tail, and the head that is left no longer matches the
secret, so it would pass the scrubber. The client is the one place that cuts."""

from __future__ import annotations

import email.utils
import html
import json as jsonlib
import math
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from tools.safe_text import line as safe_line

VENDOR_MESSAGE_MAX = 300


def header_retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from `Retry-After` (delay-seconds or HTTP-date); None if absent or bad.

    An HTTP-date is measured from the response's own `Date` header when present, so a
    skewed local clock does not stretch or shrink the wait; otherwise from now.
    """
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, response.headers.get("date"))
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _seconds_until(http_date: str, server_date: str | None) -> float | None:
    when = _parse_http_date(http_date)
    if when is None:
        return None
    now = _parse_http_date(server_date) if server_date else None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _parse_http_date(value: str) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def default_error_message(response: httpx.Response) -> str | None:
    """Best-effort vendor message from an error body, whole (the client scrubs, then cuts).

    Knows the shapes our vendors use: `message` (Tallyfy, yuuvis), Problem Details `detail`
    and `title` (Frends, Kommo), `error` as text or object, Chakra's `_errors`, and Laravel's
    `errors` map. An HTML body (proxy or API-block page) is reported as such, by its title.
    """
    text = response.text
    if not text.strip():
        return None
    if _is_html(response):
        title = _html_title(text)
        return f"HTML page: {title}" if title else "HTML page"
    try:
        data = jsonlib.loads(text)
    except ValueError:
        return _collapse(text)
    return _collapse(_json_message(data) or text)


def _is_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    start = response.content[:200].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


def _html_title(text: str) -> str | None:
    match = _TITLE.search(text)
    if match is None:
        return None
    return _collapse(html.unescape(re.sub(r"<[^>]+>", "", match.group(1)))) or None


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _truncate(text: str, limit: int = VENDOR_MESSAGE_MAX) -> str:
    # Vendor text is data (tools/safe_text.py): whitespace runs collapse to one space,
    # and what is left of control characters (an ANSI escape) is shown, not sent.
    text = safe_line(_collapse(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


_PRIMARY_KEYS = ("message", "detail", "title")
_DETAIL_KEYS = ("errors", "validation-errors", "validationErrors")


def _json_message(data: Any) -> str | None:
    """The main message plus the first field-level detail, if the body has both."""
    if isinstance(data, str):
        return data.strip() or None
    if isinstance(data, list):
        return _json_message(data[0]) if data else None
    if not isinstance(data, dict):
        return None
    main, detail = _primary_message(data), _first_detail(data)
    if main and detail and detail not in main:
        return f"{main} ({detail})"
    return main or detail


def _primary_message(data: dict[str, Any]) -> str | None:
    for key in _PRIMARY_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    error = data.get("error")
    if isinstance(error, str) and error.strip():
        return error.strip()
    if isinstance(error, dict) and (nested := _primary_message(error)):
        return nested
    chakra_errors = data.get("_errors")
    if isinstance(chakra_errors, list) and chakra_errors:
        return _json_message(chakra_errors[0])
    return None


def _first_detail(data: dict[str, Any]) -> str | None:
    for key in _DETAIL_KEYS:
        value = data.get(key)
        if isinstance(value, dict) and value:
            name, first = next(iter(value.items()))
            message = _json_message(first)
            return f"{name}: {message}" if message else None
        if isinstance(value, list) and value:
            return _item_message(value[0])
    return None


def _item_message(item: Any) -> str | None:
    if not isinstance(item, dict):
        return _json_message(item)
    # Kommo nests its field errors one level down: validation-errors[0].errors[0].
    if "errors" in item and not any(key in item for key in _PRIMARY_KEYS):
        return _first_detail(item)
    message = _primary_message(item)
    where = item.get("path") or item.get("field")
    if message and isinstance(where, str) and where:
        return f"{where}: {message}"
    return message
