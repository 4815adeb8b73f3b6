"""Where a request goes: the base URL, relative paths under it, links from responses, and
the query string. Every check here runs before anything is sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote

import httpx

from tools import redact
from tools.errors import ConfigError
from tools.http_config import ClientConfig, Params, ParamValue

_DEFAULT_PORTS = {"http": 80, "https": 443}
# In a path an adapter builds, these can only come from an id spliced in unquoted:
# adapters pass query parameters through `params`, and `tools.ids.path_segment` quotes
# them. A backslash is a separator to some servers.
_RAW_PATH_MARKS = ("?", "#", "\\")
_DOT_SEGMENTS = (".", "..")


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme))


def base_url(config: ClientConfig) -> httpx.URL:
    hint = f"Set the base URL of '{config.backend}' to an absolute http(s) URL."
    try:
        base = httpx.URL(config.base_url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"invalid base URL for '{config.backend}': {exc}", hint=hint) from None
    if base.scheme not in _DEFAULT_PORTS or not base.host:
        shown = redact.scrub_url(config.base_url, config.secrets)
        raise ConfigError(f"invalid base URL for '{config.backend}': {shown}", hint=hint)
    # A trailing slash makes relative paths land under the prefix (`/api` + `runs`).
    path = base.raw_path.split(b"?", 1)[0]
    return base.copy_with(raw_path=path if path.endswith(b"/") else path + b"/")


def unsafe_path(path: str) -> str | None:
    """Why a relative path from an adapter must not be sent, or None if it may.

    Defence in depth behind `tools.ids.path_segment`: a `..` segment would reach another
    record or endpoint (servers and proxies resolve it, some after percent-decoding), and a
    raw `?` or `#` would add parameters or cut the path short.
    """
    for mark in _RAW_PATH_MARKS:
        if mark in path:
            return f"a raw {mark!r} in the path"
    for segment in path.split("/"):
        if unquote(segment) in _DOT_SEGMENTS:
            return f"a {unquote(segment)!r} segment in the path"
    return None


def under_base(base: httpx.URL, path: httpx.URL) -> httpx.URL:
    """A relative path joined under the base URL's path prefix."""
    return base.copy_with(raw_path=base.raw_path + path.raw_path.lstrip(b"/"))


def _param_text(value: ParamValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_params(params: Params) -> str:
    # Encoded by hand: httpx groups repeated keys, and Kommo's `filter[...]` pairs must keep
    # their order. Brackets stay readable; everything else is percent-encoded.
    pairs: Iterable[tuple[str, ParamValue]] = (
        params.items() if isinstance(params, Mapping) else params
    )
    return "&".join(
        f"{quote(name, safe='[]')}={quote(_param_text(value), safe='[]')}" for name, value in pairs
    )
