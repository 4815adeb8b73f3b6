"""The rules a tool's input schema must follow for each kind of client, written as code.

Each function returns the problems it finds (empty: the schema passes), so a test can
both assert a real schema passes and show that a broken one is caught. Sources:

- MCP: the specification's Tool definition (2025-11-25): `inputSchema` is a JSON Schema
  object with `type: "object"`; tool names 1-128 of A-Z a-z 0-9 _ - . ("Tool names").
- Portable: what clients that are not model vendors stumble on. VS Code Copilot cannot
  resolve `$ref` (FastMCP dereferences for it; reference/mcp-sdk.md 3.2); Gemini and
  several clients refuse an array without `items` ("items: missing field"); a property
  without a type or description leaves a model guessing.
- Gemini: the function-declaration `Schema`, "a select subset of an OpenAPI 3.0 schema
  object" (ai.google.dev API reference; google-genai `types.Schema`): one `type`, `nullable`
  instead of type lists, string-only `enum`, `format` only `enum` or `date-time` on the
  Gemini API (Firebase AI reference, SchemaShared.format), no `$ref`/`oneOf`/`allOf`/`not`/
  `const`, and `anyOf` as the only field of its node ("When using any_of, it must be the
  only field set": Vertex AI, googleapis/python-genai#625). Parameter names start with a
  letter or underscore and hold a-z A-Z 0-9 _ up to 64; function names also `.` and `-`
  (Vertex FunctionDeclaration reference). JSON Schema forms are read the way Google's own
  converter reads them (google-genai `Schema.from_json_schema`, which its MCP adapter
  `mcp_to_gemini_tool` uses): [T, "null"] is T with nullable, an anyOf of one schema and
  {"type": "null"} is that schema with nullable, root `additionalProperties` is dropped.
- OpenAI strict: the Structured Outputs "Supported schemas" guide (platform.openai.com):
  root an object and not anyOf, every object `additionalProperties: false` with every
  property in `required`, optional emulated by a union with null; supported keywords per
  type; no allOf/not/if/then/else/dependentRequired/dependentSchemas; at most 5,000
  properties, 10 levels of nesting, 1,000 enum values; names `^[a-zA-Z0-9_-]{1,64}$`
  (function-calling reference). `minLength`/`maxLength` are accepted for models that are
  not fine-tuned since May 2025 (pydantic/pydantic-ai#4490, live-probed in #7400).
  `default` is refused by Azure OpenAI's strict mode (openai/openai-agents-python#4390),
  so it is left out everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

MCP_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
OPENAI_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
GEMINI_FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")
GEMINI_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

JSON_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}

GEMINI_KEYWORDS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum",
    "maximum",
}  # fmt: skip
GEMINI_FORMATS = {"enum", "date-time"}

OPENAI_COMMON = {"type", "description", "title", "enum", "anyOf", "$ref", "$defs", "const"}
OPENAI_BY_TYPE = {
    "string": {"pattern", "format", "minLength", "maxLength"},
    "number": {"multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"},
    "integer": {"multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum"},
    "boolean": set(),
    "null": set(),
    "array": {"items", "minItems", "maxItems"},
    "object": {"properties", "required", "additionalProperties"},
}
OPENAI_FORMATS = {
    "date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid",
}  # fmt: skip
OPENAI_MAX_PROPERTIES, OPENAI_MAX_DEPTH, OPENAI_MAX_ENUM_VALUES = 5_000, 10, 1_000


def nodes(node: Any, path: str = "$") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node (not keyword values such as enum lists), with its path."""
    if not isinstance(node, dict):
        return
    yield path, node
    for name, sub in (node.get("properties") or {}).items():
        yield from nodes(sub, f"{path}.properties.{name}")
    if isinstance(node.get("items"), dict):
        yield from nodes(node["items"], f"{path}.items")
    for i, sub in enumerate(node.get("anyOf") or []):
        yield from nodes(sub, f"{path}.anyOf[{i}]")


def types_of(node: dict[str, Any]) -> list[str]:
    kind = node.get("type")
    return list(kind) if isinstance(kind, list) else [kind] if isinstance(kind, str) else []


def admits_null(node: dict[str, Any]) -> bool:
    return "null" in types_of(node) or any(admits_null(v) for v in node.get("anyOf") or [])


def _null_pair(node: dict[str, Any]) -> dict[str, Any] | None:
    """The non-null member of anyOf [X, {"type": "null"}], else None."""
    members = node.get("anyOf")
    if isinstance(members, list) and len(members) == 2 and {"type": "null"} in members:
        return next(m for m in members if m != {"type": "null"})
    return None


def described(node: dict[str, Any]) -> bool:
    inner = _null_pair(node)
    return bool(node.get("description") or (inner and inner.get("description")))


# Parameters whose names say all a description would, left undescribed because every
# client sends every description on every turn (issue 12's tools/list budget):
# created_after describes the date bounds once (after inclusive, before not), and
# list_backends names each backend's collections and main one.
SELF_DESCRIBING = frozenset(
    {"collection", "created_before", "updated_after", "updated_before", "due_before", "sort"}
)


def portable_problems(tool: dict[str, Any]) -> list[str]:
    out: list[str] = []
    schema = tool["inputSchema"]
    if not MCP_NAME.fullmatch(tool["name"]):
        out.append(f"tool name {tool['name']!r} breaks the MCP name rule")
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        out.append("$: inputSchema must be an object with properties")
        return out
    if schema.get("additionalProperties") is not False:
        out.append("$: unknown parameters are refused, so additionalProperties must be false")
    for name in schema.get("required", []):
        if name not in schema["properties"]:
            out.append(f"$.required names {name!r}, which is not a property")
    for path, node in nodes(schema):
        if {"$ref", "$defs", "definitions"} & node.keys():
            out.append(f"{path}: $ref/$defs (VS Code cannot resolve them)")
        if not types_of(node) and _null_pair(node) is None:
            out.append(f"{path}: no type")
        if not set(types_of(node)) <= JSON_TYPES:
            out.append(f"{path}: {node.get('type')!r} is not a JSON type")
        if "array" in types_of(node) and not types_of(node.get("items") or {}):
            out.append(f"{path}: an array without typed items")
    for name, prop in schema["properties"].items():
        if not described(prop) and name not in SELF_DESCRIBING:
            out.append(f"$.properties.{name}: no description")
    return out


def gemini_view(node: Any) -> Any:
    """A JSON Schema node as Google's converter hands it to Gemini: [T, "null"] becomes T
    with nullable, anyOf [X, null] becomes X with nullable."""
    if not isinstance(node, dict):
        return node
    inner = _null_pair(node)
    if inner is not None and set(node) == {"anyOf"}:
        return {**gemini_view(inner), "nullable": True}
    out = dict(node)
    kinds = types_of(node)
    if isinstance(node.get("type"), list):
        non_null = [k for k in kinds if k != "null"]
        out["type"] = non_null[0] if len(non_null) == 1 else non_null
        if "null" in kinds:
            out["nullable"] = True
    if isinstance(node.get("properties"), dict):
        out["properties"] = {k: gemini_view(v) for k, v in node["properties"].items()}
    if isinstance(node.get("items"), dict):
        out["items"] = gemini_view(node["items"])
    if isinstance(node.get("anyOf"), list):
        out["anyOf"] = [gemini_view(v) for v in node["anyOf"]]
    return out


def gemini_problems(tool: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if not GEMINI_FUNCTION_NAME.fullmatch(tool["name"]):
        out.append(f"tool name {tool['name']!r} breaks Gemini's function name rule")
    raw = tool["inputSchema"]
    for path, node in nodes(raw):
        if "anyOf" in node and set(node) != {"anyOf"}:
            out.append(f"{path}: anyOf must be the only field of its node (Vertex)")
        if path != "$" and "additionalProperties" in node:
            out.append(f"{path}: nested additionalProperties")
    schema = {k: v for k, v in gemini_view(raw).items() if k != "additionalProperties"}
    for name in schema.get("properties", {}):
        if not GEMINI_PARAMETER_NAME.fullmatch(name):
            out.append(f"parameter {name!r} breaks Gemini's parameter name rule")
    for path, node in nodes(schema):
        unknown = set(node) - GEMINI_KEYWORDS
        if unknown:
            out.append(f"{path}: {sorted(unknown)} are not Gemini Schema fields")
        kind = node.get("type")
        if kind is not None and not (isinstance(kind, str) and kind != "null"):
            out.append(f"{path}: type {kind!r} (Gemini takes one type, nullable for null)")
        if "anyOf" in node and "type" not in node:
            out.append(f"{path}: an anyOf Google's converter cannot reduce to one type")
        if "enum" in node and not (
            kind == "string" and all(isinstance(v, str) for v in node["enum"])
        ):
            out.append(f"{path}: Gemini enums are strings only")
        if "format" in node and node["format"] not in GEMINI_FORMATS:
            out.append(f"{path}: format {node['format']!r} is refused by the Gemini API")
        if kind == "array" and not isinstance(node.get("items"), dict):
            out.append(f"{path}: an array needs items")
    return out


def openai_strict_problems(tool: dict[str, Any], converted: dict[str, Any]) -> list[str]:
    """`converted`: the schema as the OpenAI Agents SDK sends it in strict mode. Optional
    parameters (not required in the published schema) must still be able to say "not
    given", which strict mode leaves only null for."""
    out: list[str] = []
    if not OPENAI_NAME.fullmatch(tool["name"]):
        out.append(f"tool name {tool['name']!r} breaks OpenAI's function name rule")
    if converted.get("type") != "object" or "anyOf" in converted:
        out.append("$: the root must be a plain object")
    published_required = set(tool["inputSchema"].get("required", []))
    for name, prop in (converted.get("properties") or {}).items():
        if name not in published_required and not admits_null(prop):
            out.append(f"$.properties.{name}: optional, but null is not allowed")
    count, enum_values = 0, 0
    for path, node in nodes(converted):
        depth = path.count(".properties.") + path.count(".items")
        if depth > OPENAI_MAX_DEPTH:
            out.append(f"{path}: nested deeper than {OPENAI_MAX_DEPTH}")
        kinds = types_of(node)
        allowed = OPENAI_COMMON.union(*(OPENAI_BY_TYPE.get(k, set()) for k in kinds))
        unknown = set(node) - allowed
        if unknown:
            out.append(f"{path}: {sorted(unknown)} are not supported in strict mode")
        if "format" in node and node["format"] not in OPENAI_FORMATS:
            out.append(f"{path}: format {node['format']!r} is not supported")
        if "object" in kinds:
            props = node.get("properties") or {}
            count += len(props)
            if node.get("additionalProperties") is not False:
                out.append(f"{path}: additionalProperties must be false")
            if sorted(node.get("required", [])) != sorted(props):
                out.append(f"{path}: every property must be required")
        enum_values += len(node.get("enum") or [])
    if count > OPENAI_MAX_PROPERTIES:
        out.append(f"more than {OPENAI_MAX_PROPERTIES} properties")
    if enum_values > OPENAI_MAX_ENUM_VALUES:
        out.append(f"more than {OPENAI_MAX_ENUM_VALUES} enum values")
    return out
