"""A bad-input corpus (issue 14, item 5): generated calls over each tool's published input
schema (hypothesis-jsonschema), the same schemas with every property loosened to any
JSON value, and the hand cases of the issue, all through the SDK's in-memory client into
the real server with every sandbox backend behind its simulator.

Every answer must be a success that respects its input, or an isError whose text says
what to change; never a traceback, an "internal error" or a Python repr. Hypothesis runs
derandomized and without shrinking, so the test fails on the first counter-example.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis_jsonschema import from_schema
from mcp import Client

from server.app import build_server
from server.catalog import TOOLS
from server.settings import Settings
from tests import jsonschema_compat
from tests.export.conftest import open_sim
from tools.sandbox import SANDBOXES
from tools.table import ListPage

jsonschema_compat.install()
SIMS = [open_sim(m, seed=11) for m in SANDBOXES]
NAMES = [s.settings.name for s in SIMS]
CALL_SECONDS = 30
# Per tool and strategy; 4 tools x (50 + 40) = 360 generated calls.
EXAMPLES = {"schema": 50, "loose": 40}

FORBIDDEN = [
    re.compile(p)
    for p in (
        r"Traceback",
        r"internal error",
        r'File "',
        r"<[\w.]+ object at 0x",
        r"\b[A-Z]\w*(Error|Exception)\(",
        r"[\[{(,:]\s*(True|False|None)\b",
        r"\b(True|False|None)\s*[,\]})]",
        r"\{'[^']*': |\['[^']*'(, |\])",  # {'key': ...} or ['a', ...]
        r"Input should be|errors\.pydantic\.dev|validation errors? for",
    )
]


JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


class Corpus:
    """One server for the whole corpus, its event loop in a thread (hypothesis is sync)."""

    def __init__(self, portal: BlockingPortal, client: Client, directory: Path) -> None:
        self.portal = portal
        self.client = client
        self.directory = directory
        self.calls = 0

    def call(self, tool: str, args: dict[str, Any]) -> Any:
        async def run() -> Any:
            with anyio.fail_after(CALL_SECONDS):
                return await self.client.call_tool(tool, args)

        self.calls += 1
        return self.portal.call(run)


@contextmanager
def _corpus(directory: Path) -> Iterator[Corpus]:
    for sim in SIMS:
        sim.core.reset()
    settings = Settings(instances=[s.settings for s in SIMS], export_dir=directory)
    transports = {s.settings.name: httpx.ASGITransport(app=s.core) for s in SIMS}
    server = build_server(settings, transports=transports)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(server)) as client,
    ):
        yield Corpus(portal, client, directory)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    with _corpus(tmp_path_factory.mktemp("corpus-exports")) as c:
        yield c


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def check(corpus: Corpus, tool: str, args: dict[str, Any]) -> Any:
    """Call, then hold the answer to the rule; returns the result for further checks."""
    result = corpus.call(tool, args)
    text = _text(result)
    where = f"{tool} {args!r} answered:\n{text}"
    # A success quotes vendor data, which may hold anything; the crash markers hold there too.
    # Values quoted as JSON strings are the caller's own text, not a repr.
    unquoted = JSON_STRING.sub('""', text)
    for pattern in FORBIDDEN if result.is_error else FORBIDDEN[:4]:
        assert not pattern.search(unquoted), f"{pattern.pattern!r} in {where}"
    if result.is_error:
        assert "\nHow to fix: " in text, f"no fix in {where}"
        fix = text.split("\nHow to fix: ", 1)[1].strip()
        assert len(fix) > 10, f"empty fix in {where}"
    else:
        _respects_input(corpus, tool, args, result.structured_content, where)
    return result


def _respects_input(
    corpus: Corpus, tool: str, args: dict[str, Any], answer: dict[str, Any], where: str
) -> None:
    assert answer is not None, where
    # JSON null for an optional parameter means "not given".
    args = {k: v for k, v in args.items() if v is not None}
    if tool == "list_backends":
        assert args == {}, where
        return
    backend = args.get("backend", "all")
    if tool == "list_processes":
        rows = ListPage.model_validate(answer).records()
        assert len(rows) == answer["count"] <= args.get("limit", 20), where
        if backend != "all":
            assert {r["backend"] for r in rows} <= {backend}, where
        if "collection" in args:
            assert {r["collection"] for r in rows} <= {args["collection"]}, where
        if args.get("status") and "status" in answer["columns"] + list(answer.get("shared", {})):
            wanted = args["status"] if isinstance(args["status"], list) else [args["status"]]
            assert {r.get("status") for r in rows} <= set(wanted), where
        fields = args.get("fields")
        if isinstance(fields, str):
            fields = [fields]
        if fields is not None:
            assert all(set(r) <= {"backend", "collection", "id", *fields} for r in rows), where
        elif args.get("detail") == "ids":
            assert all(set(r) <= {"backend", "collection", "id"} for r in rows), where
        if answer["has_more"]:
            assert answer.get("next_cursor"), where
    elif tool == "get_process":
        assert answer["backend"] == backend, where
        if "collection" in args:
            assert answer["collection"] == args["collection"], where
    elif tool == "export_process":
        path = Path(answer["path"])
        assert path.parent == corpus.directory, where
        assert path.is_file(), where
        assert path.stat().st_size == answer["size_bytes"], where
        if "max_rows" in args and answer.get("rows") is not None:
            assert answer["rows"] <= args["max_rows"], where
        if "format" in args:
            assert answer["format"] == args["format"], where
        if "id" not in args:
            assert answer["format"] == args.get("format", "csv"), where


# -- strategies ---------------------------------------------------------------------------

SCHEMAS = {t.name: t.input_schema for t in TOOLS}


def _schema_variant(tool: str) -> dict[str, Any]:
    """The published schema, with backend among the real instances (so calls go deep) and
    sizes kept small enough for the corpus to stay fast."""
    schema = copy.deepcopy(SCHEMAS[tool])
    props = schema.get("properties", {})
    if not props:
        # A tool without parameters: its schema has only {}; send it any object.
        return {"type": "object"}
    if "backend" in props:
        props["backend"] = {"enum": [*NAMES, "all", "nope"]}
    for name in ("created_after", "created_before", "updated_after", "updated_before"):
        if name in props:
            # Mostly real dates, so that calls get past parsing to the backends.
            props[name] = {
                "anyOf": [
                    {"type": "string", "format": "date"},
                    {"type": "string", "format": "date-time"},
                    props[name],
                ]
            }
    # A random cursor is only ever refused; the loose variant still sends them.
    props.pop("cursor", None)
    if "limit" in props:
        props["limit"]["maximum"] = 60
    if tool == "export_process":
        props["max_rows"]["maximum"] = 40
        schema["required"] = [*schema.get("required", []), "max_rows"]
    if "id" in props and tool == "get_process":
        props["id"] = {"type": "string", "maxLength": 40}
    return schema


def _loose_variant(tool: str) -> dict[str, Any]:
    """Every property any JSON value (the wrong types an agent might send), plus now and
    then a parameter that does not exist."""
    schema = SCHEMAS[tool]
    props: dict[str, Any] = {key: {} for key in schema.get("properties", {})}
    if "backend" in props:
        props["backend"] = {"enum": NAMES}
    if tool == "export_process":
        props["max_rows"] = {"type": "integer", "minimum": 1, "maximum": 40}
    props["colour"] = {}
    return {
        "type": "object",
        "properties": props,
        "required": [r for r in schema.get("required", []) if r != "id"],
        "additionalProperties": False,
    }


CORPUS_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: stop at the first failure
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("variant", ["schema", "loose"])
@pytest.mark.parametrize("tool", [t.name for t in TOOLS])
def test_generated_calls_succeed_respecting_input_or_say_what_to_change(
    corpus: Corpus, tool: str, variant: str
) -> None:
    make = _schema_variant if variant == "schema" else _loose_variant
    strategy = from_schema(make(tool))
    before = corpus.calls

    @settings(CORPUS_SETTINGS, max_examples=EXAMPLES[variant])
    @given(args=strategy)
    def run(args: dict[str, Any]) -> None:
        check(corpus, tool, args)

    run()
    assert corpus.calls - before >= EXAMPLES[variant] * 0.9  # hypothesis ran the corpus


# -- the hand cases -----------------------------------------------------------------------

CHAKRA, KOMMO, TALLYFY = "chakra-sandbox", "kommo-sandbox", "tallyfy-sandbox"
HAND: list[tuple[str, dict[str, Any]]] = [
    ("list_processes", {"backend": TALLYFY, "created_after": 20260101}),
    ("list_processes", {"backend": TALLYFY, "created_after": 1767225600.5}),
    ("list_processes", {"backend": TALLYFY, "created_after": "0001-01-01T00:00:00+14:00"}),
    ("list_processes", {"backend": TALLYFY, "updated_before": "9999-12-31T23:59:59-14:00"}),
    ("list_processes", {"backend": TALLYFY, "created_after": "2026-02-30"}),
    ("list_processes", {"backend": TALLYFY, "limit": True}),
    ("list_processes", {"backend": TALLYFY, "limit": 5.0}),
    ("list_processes", {"backend": TALLYFY, "limit": None}),
    ("list_processes", {"backend": TALLYFY, "collection": ""}),
    ("list_processes", {"backend": ""}),
    ("list_processes", {"backend": CHAKRA, "where": {"budget": {">=": "abc"}}}),
    ("list_processes", {"backend": CHAKRA, "where": {"budget": {">=": None}}}),
    ("list_processes", {"backend": CHAKRA, "where": {"budget": {">=": [1]}}}),
    ("list_processes", {"backend": CHAKRA, "where": {"": 1}}),
    ("list_processes", {"backend": CHAKRA, "where": "city=Pune"}),
    ("list_processes", {"backend": CHAKRA, "where": '{"city": "Pune"'}),
    ("list_processes", {"backend": KOMMO, "where": {"price": {">": "1000"}}}),
    ("list_processes", {"backend": "all", "where": {"budget": {">=": "abc"}}}),
    ("list_processes", {"backend": TALLYFY, "cursor": "e30"}),
    ("list_processes", {"backend": TALLYFY, "cursor": "x" * 20_000}),
    ("list_processes", {"backend": TALLYFY, "status": "open", "tags": [""]}),
    ("list_processes", {"backend": TALLYFY, "status": [None]}),
    ("list_processes", {"backend": TALLYFY, "sort": None}),
    ("list_processes", {"backend": TALLYFY, "detail": 1}),
    ("export_process", {"backend": TALLYFY, "max_rows": "5"}),
    ("export_process", {"backend": TALLYFY, "overwrite": "yes", "max_rows": 2}),
    ("export_process", {"backend": TALLYFY, "file_name": "🙂.csv", "max_rows": 2}),
    ("export_process", {"backend": TALLYFY, "file_name": "h€llo w🙂rld.csv", "max_rows": 2}),
    ("export_process", {"backend": TALLYFY, "file_name": "../x.csv", "max_rows": 2}),
    ("export_process", {"backend": TALLYFY, "file_name": "", "max_rows": 2}),
    ("export_process", {"backend": TALLYFY, "fields": [], "max_rows": 2}),
    ("export_process", {"backend": TALLYFY, "fields": [1], "max_rows": 2}),
    ("export_process", {"backend": TALLYFY, "fields": ["id", "colour"], "max_rows": 2}),
    ("export_process", {"backend": TALLYFY, "columns": ["id"], "max_rows": 2}),
    ("list_processes", {"backend": TALLYFY, "fields": ["owner", "nope"]}),
    ("list_processes", {"backend": TALLYFY, "fields": "owner"}),
    ("list_processes", {"backend": TALLYFY, "fields": []}),
    ("export_process", {"backend": "all", "id": "x"}),
    ("get_process", {"backend": TALLYFY, "id": "   "}),
    ("get_process", {"backend": TALLYFY, "id": "../../etc/passwd"}),
    ("get_process", {"backend": TALLYFY, "id": "x", "include": "tasks"}),
    ("get_process", {"backend": CHAKRA, "id": "x" * 300}),
    ("list_backends", {"verbose": True}),
]


@pytest.mark.parametrize(("tool", "args"), HAND, ids=[f"{t}-{i}" for i, (t, _) in enumerate(HAND)])
def test_hand_cases_follow_the_same_rule(corpus: Corpus, tool: str, args: dict[str, Any]) -> None:
    check(corpus, tool, args)


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("list_processes", {"backend": TALLYFY, "created_after": 20260101}),
        ("list_processes", {"backend": TALLYFY, "limit": True}),
        ("export_process", {"backend": TALLYFY, "max_rows": "5"}),
        ("export_process", {"backend": TALLYFY, "overwrite": "yes", "max_rows": 2}),
        ("list_processes", {"backend": TALLYFY, "collection": ""}),
        ("list_processes", {"backend": CHAKRA, "where": {"budget": {">=": "abc"}}}),
    ],
)
def test_the_issues_silent_coercions_are_now_refusals(
    corpus: Corpus, tool: str, args: dict[str, Any]
) -> None:
    assert check(corpus, tool, args).is_error


def test_the_checker_catches_a_python_repr_and_a_missing_fix() -> None:
    # The rule can fail: these answers break it.
    assert any(p.search("got {'a': True}") for p in FORBIDDEN)
    assert any(p.search("got ['a', 'b']") for p in FORBIDDEN)
    assert any(p.search("limit: Input should be a valid integer") for p in FORBIDDEN)
    assert any(p.search("list_processes failed with an internal error") for p in FORBIDDEN)
    assert not any(
        p.search("limit must be an integer, not true\nHow to fix: ...") for p in FORBIDDEN
    )


def test_strategies_cover_at_least_300_calls() -> None:
    assert len(TOOLS) * sum(EXAMPLES.values()) >= 300
