"""Where a request goes: the base URL, relative paths under it, links from responses, and
the query string. Every check here runs before anything is sent."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote, unquote

import httpx

from tools import redact
from tools.errors import BackendError, ConfigError, RequestInfo
from tools.http_config import ClientConfig, Params, ParamValue
from tools.http_failures import bad_link_failure, unsafe_path_failure

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


def target_url(
    config: ClientConfig,
    base: httpx.URL,
    method: str,
    url: str,
    params: Params | None,
    scrub: Callable[[str], str],
) -> httpx.URL:
    """Where a request goes: a path under `base`, or an absolute link of the same origin,
    with `params` appended; anything else is refused before sending (`scrub` hides the
    credentials in what the error shows)."""
    target = _resolve(config, base, method, url, scrub)
    if not params:
        return target
    encoded = encode_params(params)
    query = target.query.decode("ascii")
    return target.copy_with(query=(f"{query}&{encoded}" if query else encoded).encode())


def _resolve(
    config: ClientConfig, base: httpx.URL, method: str, url: str, scrub: Callable[[str], str]
) -> httpx.URL:
    def bad_link(what: str) -> BackendError:
        return bad_link_failure(config, method, scrub(url), scrub(str(base)), what)

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise bad_link("invalid URL") from None
    if not (parsed.scheme or parsed.host):
        # Checked as the adapter wrote it: httpx would resolve `..` before we saw it.
        why = unsafe_path(url)
        if why is not None:
            shown = RequestInfo(method, scrub(str(base) + url.lstrip("/")))
            raise unsafe_path_failure(config, shown, why)
        return under_base(base, parsed)
    # Links come from backend responses; following one elsewhere would send our
    # credentials to whoever the backend (or an attacker in its data) points at.
    if origin(parsed) != origin(base):
        raise bad_link("refusing to follow a link to another origin")
    return parsed
