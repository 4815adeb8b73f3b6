"""Typed, field-selective decoding of backend bodies: one helper for every adapter.

Each adapter declares the rows it reads as msgspec Structs holding only the fields it uses
(unknown fields are skipped without building them: a Frends list row carries kilobytes of
BPMN the summary never reads). A body that is not the declared shape is a
BackendResponseError naming the backend and the field (`$.data[3].id`)."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from tools.errors import BackendResponseError, RequestInfo

T = TypeVar("T")

_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


class Shape(msgspec.Struct, rename="camel", forbid_unknown_fields=False):
    """Base of the vendors' declared shapes: snake_case attributes for camelCase JSON keys
    (a Struct may override `rename` with explicit names)."""


class SnakeShape(Shape, rename=None):
    """Base of the shapes of vendors whose JSON keys are snake_case (Tallyfy, Kommo)."""


def _shape_error(
    backend: str, error: msgspec.ValidationError, request: RequestInfo | None
) -> BackendResponseError:
    return BackendResponseError(
        f"unexpected response shape: {error}",
        backend=backend,
        request=request,
        hint="The backend answered in a shape this adapter does not know (a newer API "
        "version, or another service at the base URL?); check the instance's base URL.",
    )


def decode_json(
    content: bytes, shape: type[T], *, backend: str, request: RequestInfo | None = None
) -> T:
    """`content` decoded straight into `shape`. Raises msgspec.DecodeError for a body that
    is not JSON (the HTTP client reports that as malformed), BackendResponseError for JSON
    of another shape."""
    decoder = _decoders.get(shape)
    if decoder is None:
        decoder = _decoders[shape] = msgspec.json.Decoder(shape)
    try:
        return decoder.decode(content)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        raise _shape_error(backend, exc, request) from None


def convert(value: Any, shape: type[T], *, backend: str) -> T:
    """An already-decoded value (a detail object read whole) as `shape`."""
    try:
        return msgspec.convert(value, shape)
    except msgspec.ValidationError as exc:
        raise _shape_error(backend, exc, None) from None


def row(raw: Any, shape: type[T], whole: type[T], *, backend: str) -> T:
    """A row as an adapter's mapping reads it: `raw` itself when a list page decoded it
    already (as `shape` or one of its subclasses), else an object read whole (a single
    get's JSON) converted to `whole`, the shape with every field the mapping may read."""
    return raw if isinstance(raw, shape) else convert(raw, whole, backend=backend)
