"""Keep credentials out of everything a person or a model can read: errors, URLs and logs.

Two layers work together:

- explicit scrubbing (`scrub`, `scrub_url`) where text is built, e.g. an error message;
- a process-wide registry of secret values plus a `logging.Filter`, so that a log line can
  never carry a registered secret, whoever wrote it and however it was formatted.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "SENSITIVE_PARAMS",
    "RedactingFilter",
    "install_log_redaction",
    "is_sensitive_param",
    "register_secret",
    "registered_secrets",
    "scrub",
    "scrub_url",
]

MASK = "***"

# Shorter values are too likely to occur by chance ("id", "abc"); masking them would mangle
# ordinary text while protecting nothing a real credential looks like.
MIN_SECRET_LENGTH = 4

SENSITIVE_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "apikey",
        "key",
        "password",
        "secret",
        "client_secret",
        "signature",
        "sig",
        "auth",
    }
)


def _needles(secrets: Iterable[str]) -> frozenset[str]:
    """The strings to look for: each usable secret plus its encoded spellings.

    A token with `+`, `/` or `=` (base64, JWT padding) shows up percent-encoded in a query
    string, so the raw value alone would slip through `scrub_url`; and in JSON text that
    is quoted before it is parsed (a cut-off body), as PHP writes `/` (`\\/`) or .NET
    writes `+` (`\\u002B`).
    """
    found: set[str] = set()
    for secret in secrets:
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            continue
        found.add(secret)
        found.update(_url_spellings(secret))
        found.update(_json_spellings(secret))
    return frozenset(found)


def _url_spellings(secret: str) -> set[str]:
    """Percent-encoded as the usual encoders write it: every reserved character, or
    leaving `/` and `=` alone, with `+` or `%20` for spaces, in upper or lower case hex."""
    spelled = {
        encode(secret, safe=safe) for encode in (quote, quote_plus) for safe in ("", "/", "=", "/=")
    }
    return spelled | {_LOWER_HEX.sub(lambda m: m.group().lower(), s) for s in spelled}


_LOWER_HEX = re.compile(r"%[0-9A-F]{2}")


def _json_spellings(secret: str) -> set[str]:
    if "/" not in secret and "+" not in secret:
        return set()
    slash = secret.replace("/", "\\/")
    return {
        slash,
        *(s.replace("+", plus) for s in (secret, slash) for plus in ("\\u002B", "\\u002b")),
    }


@lru_cache(maxsize=128)
def _pattern(needles: frozenset[str]) -> re.Pattern[str]:
    # Longest first, so a secret that contains another is masked whole, not in pieces.
    ordered = sorted(needles, key=lambda needle: (-len(needle), needle))
    return re.compile("|".join(re.escape(needle) for needle in ordered))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret (at least 4 characters) with `***`."""
    needles = _needles(secrets)
    if not needles or not text:
        return text
    pattern = _pattern(needles)
    # Repeat until stable: masking can join the pieces around a match into a new occurrence
    # (a secret like "****"). Each pass shortens the text, so this always ends.
    while True:
        masked = pattern.sub(MASK, text)
        if masked == text:
            return masked
        text = masked


def is_sensitive_param(raw_name: str) -> bool:
    """Whether a (possibly URL-encoded) query parameter name looks like it carries a secret."""
    name = unquote_plus(raw_name).strip().lower().replace("-", "_")
    if name in SENSITIVE_PARAMS:
        return True
    # Bracketed names such as `auth[token]` carry the credential in their last segment.
    last = name.rstrip("]").rsplit("[", 1)[-1]
    return last in SENSITIVE_PARAMS


def _mask_params(query: str) -> str:
    """Mask sensitive values, keeping every other byte (order, repeats, encoding) as it was."""
    if not query:
        return query
    pieces = []
    for piece in query.split("&"):
        name, sep, _value = piece.partition("=")
        pieces.append(f"{name}={MASK}" if sep and is_sensitive_param(name) else piece)
    return "&".join(pieces)


_USERINFO = re.compile(r"(?<=//)[^/?#@]*@")


def scrub_url(url: str, secrets: Iterable[str] = ()) -> str:
    """A URL safe to show: no `user:pass@`, sensitive query values masked, secrets scrubbed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        # Unparseable (e.g. a broken IPv6 host): still remove what looks like userinfo.
        return scrub(_USERINFO.sub("", url), secrets)
    netloc = parts.netloc.rpartition("@")[2]
    # OAuth implicit flows put `access_token=` in the fragment, so mask it there too.
    cleaned = urlunsplit(
        (parts.scheme, netloc, parts.path, _mask_params(parts.query), _mask_params(parts.fragment))
    )
    return scrub(cleaned, secrets)


_registry: set[str] = set()
_registry_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember a credential so no log line in this process can show it."""
    if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
        with _registry_lock:
            _registry.add(value)


def registered_secrets() -> frozenset[str]:
    with _registry_lock:
        return frozenset(_registry)


class RedactingFilter(logging.Filter):
    """Rewrites each record's final text so that no registered secret reaches a handler.

    The message is formatted here (`record.getMessage()`) because a secret usually arrives
    as an argument, not in the format string; the args are then dropped so a formatter
    cannot re-insert them. Tracebacks are formatted and scrubbed the same way.
    """

    def __init__(self, extra_secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._extra = frozenset(extra_secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = registered_secrets() | self._extra
        record.msg = scrub(_message_of(record), secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatter.format reuses exc_text when set, so the scrubbed text is what prints.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, secrets)
        return True


def _message_of(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:
        # Bad format args would make the handler print them in its error report; drop them.
        return f"{record.msg} (log arguments could not be formatted)"


def install_log_redaction(target: logging.Handler | logging.Logger) -> RedactingFilter:
    """Attach one RedactingFilter to a handler, or to a logger and each of its handlers.

    A logger's own filters do not see records propagated from child loggers, so for a
    logger the filter also goes on its handlers. Installing twice is harmless.
    """
    existing = next((f for f in target.filters if isinstance(f, RedactingFilter)), None)
    redactor = existing or RedactingFilter()
    if existing is None:
        target.addFilter(redactor)
    if isinstance(target, logging.Logger):
        for handler in target.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redactor)
    return redactor
