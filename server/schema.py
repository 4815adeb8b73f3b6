"""JSON schemas as clients accept them everywhere: no $ref/$defs, no generated titles."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace every local $ref with its definition (our models are not recursive)."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                target = walk(copy.deepcopy(defs[ref.rsplit("/", 1)[-1]]))
                return {**target, **{k: walk(v) for k, v in node.items() if k != "$ref"}}
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


def strip_titles(node: Any) -> Any:
    """Generated titles repeat property names and only cost tokens. A *property* that is
    called "title" is kept: only the schema keyword goes."""
    if isinstance(node, list):
        return [strip_titles(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: strip_titles(sub) for name, sub in value.items()}
        elif not (key == "title" and isinstance(value, str)):
            out[key] = strip_titles(value)
    return out


def drop_nulls(node: Any) -> Any:
    """Answers are dumped with exclude_none, so null never appears in them: `anyOf [X,
    null]` becomes X and `default: null` goes. Stricter, and much cheaper for clients
    that validate every result against the schema."""
    if isinstance(node, list):
        return [drop_nulls(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: drop_nulls(v) for k, v in node.items() if not (k == "default" and v is None)}
    variants = out.get("anyOf")
    if isinstance(variants, list):
        kept = [v for v in variants if v != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(variants):
            del out["anyOf"]
            out = {**kept[0], **out}
    return out


def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(mode="serialization")
    result: dict[str, Any] = drop_nulls(strip_titles(inline_refs(schema)))
    return result


def _lean(node: dict[str, Any]) -> dict[str, Any]:
    """A property reduced to its JSON type."""
    return {"type": node["type"]} if "type" in node else {}


def lean_output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The answer's top-level shape only: the JSON type of each property that is always
    there. Output schemas are sent with every tools/list (clients keep them, validate
    results with them, some show them to the model), where the full nested schemas were
    about half of the whole listing (issue 12); the types and the meaning of each part are
    documented in the README and tools/table.py."""
    full = output_schema(model)
    required = full.get("required", [])
    # Only the parts always there are declared (the rest are optional and open: the
    # schema does not forbid other properties), which keeps get_process' 25-field
    # answer to four lines of schema.
    lean: dict[str, Any] = {
        "type": "object",
        "properties": {k: _lean(v) for k, v in full.get("properties", {}).items() if k in required},
    }
    if required:
        lean["required"] = required
    return lean
