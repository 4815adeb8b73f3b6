"""Logging to stderr only (stdout carries the protocol in stdio mode), with secrets scrubbed."""

from __future__ import annotations

import logging
import sys

from tools.redact import RedactingFilter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str = "INFO") -> None:
    """Install one stderr handler on the root logger before the SDK configures its own
    (its basicConfig is a no-op once a handler exists)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    # Per-request lines from httpx would duplicate ours (and show raw URLs).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
