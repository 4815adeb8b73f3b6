"""Prompts: the questions people bring to this server, expanded into the tool calls that
answer them (with the filters filled in and dates computed from the server's clock).

Listing goes through the SDK's prompt manager; `prompts/get` is served here, so that a
wrong call (an unknown prompt, a missing or unknown argument, a value that does not
parse) is an Invalid-params error saying how to fix it, never "Internal error" with a
traceback in the log. Every argument is completable (server.completions).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts import Prompt
from mcp.server.mcpserver.prompts.base import PromptArgument
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    GetPromptRequestParams,
    GetPromptResult,
    PromptMessage,
    TextContent,
)

from server.protocol import lowlevel
from tools.arguments import label, shown
from tools.filter_text import filter_arguments
from tools.get_process import SECTIONS
from tools.instances import ALL
from tools.suggest import PERIODS


class PromptArgumentError(ValueError):
    """A prompt argument that cannot be used; the message says how to fix it."""


@dataclass(frozen=True)
class Arg:
    name: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class PromptDef:
    name: str
    title: str
    description: str
    arguments: tuple[Arg, ...]
    render: Callable[[Mapping[str, str], datetime], str]


def _call(tool: str, args: Mapping[str, Any]) -> str:
    used = {k: v for k, v in args.items() if v not in (None, "", [])}
    return f"{tool} {json.dumps(used, ensure_ascii=False)}"


def _positive(name: str, value: str, upper: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        number = 0
    if not 1 <= number <= upper:
        raise PromptArgumentError(
            f"{name} must be a whole number from 1 to {upper}, not {shown(value)} (e.g. 14)"
        )
    return number


def _list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _stuck(args: Mapping[str, str], now: datetime) -> str:
    days = _positive("days", args.get("days") or "14", 3650)
    cutoff = (now - timedelta(days=days)).date().isoformat()
    include = _list(args.get("include")) or ["tasks"]
    unknown = [s for s in include if s not in SECTIONS]
    if unknown:
        raise PromptArgumentError(
            f"include has unknown section(s) {', '.join(unknown)}; use any of: "
            + ", ".join(SECTIONS)
        )
    native = _list(args.get("native_status"))
    query = {
        "backend": args.get("backend") or ALL,
        "collection": args.get("collection"),
        "template": args.get("template"),
        # Native statuses are the sharper question ("problem" runs) when given.
        "native_status": native,
        "status": [] if native else ["open"],
        "updated_before": cutoff,
        "sort": "updated_at",
        "limit": 20,
    }
    return "\n".join(
        [
            f"Find the processes that look stuck: still open and unchanged for {days} days "
            f"or more (no change since {cutoff}; today is {now.date().isoformat()}).",
            "",
            f"1. Call {_call('list_processes', query)}",
            "   sort=updated_at puts the longest-untouched first. If the answer says an "
            "instance was skipped because it cannot sort by update time (Tallyfy runs "
            "cannot), repeat the call for that instance alone without sort (its newest "
            "first); if it cannot filter by update time, with created_before instead of "
            "updated_before. Say so in the answer.",
            "2. For the five oldest rows call "
            + _call("get_process", {"backend": "<the row's backend>", "id": "<the row's id>"})
            + f' with "include": {json.dumps(include)}, and find what holds each one up: '
            "an OVERDUE task and its owner, a missing field, a step nobody owns.",
            "3. Answer with a short table: process, owner, days without change, what blocks "
            "it, who should act next. If next_cursor is set, say how many more may match "
            "instead of paging through all of them.",
        ]
    )


def period_range(period: str, now: datetime) -> tuple[date, date]:
    """[start, end) of a named period: Nd / Nw (the last N days or weeks up to today,
    inclusive), this-week, last-week, this-month, last-month."""
    today = now.date()
    tomorrow = today + timedelta(days=1)
    text = period.strip().lower()
    if m := re.fullmatch(r"(\d{1,4})([dw])", text):
        count = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
        if count >= 1:
            return tomorrow - timedelta(days=count), tomorrow
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    last_month = (first - timedelta(days=1)).replace(day=1)
    named = {
        "this-week": (monday, tomorrow),
        "last-week": (monday - timedelta(days=7), monday),
        "this-month": (first, tomorrow),
        "last-month": (last_month, first),
    }
    if text in named:
        return named[text]
    raise PromptArgumentError(
        f"period {shown(period)} is not one I know; use Nd or Nw (e.g. 7d, 4w) or one of: "
        + ", ".join(PERIODS)
    )


def _report(args: Mapping[str, str], now: datetime) -> str:
    period = args.get("period") or "7d"
    start, end = period_range(period, now)
    base: dict[str, Any] = {
        "backend": args.get("backend") or ALL,
        "collection": args.get("collection"),
    }
    window = {"updated_after": start.isoformat(), "updated_before": end.isoformat()}
    count = {"group_by": ["backend"]}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("New", {**base, "created_after": start.isoformat(), "created_before": end.isoformat()}),
        ("Finished", {**base, "status": ["completed"], **window}),
        ("Cancelled or failed", {**base, "status": ["cancelled", "failed"], **window}),
        (
            "Open and untouched all period",
            {**base, "status": ["open"], "updated_before": start.isoformat()},
        ),
    ]
    lines = [
        f"Write a status report for {base['backend']} covering {start.isoformat()} up to "
        f"(not including) {end.isoformat()} (period {period}).",
        "",
        "Count each group with one call (each answer counts per backend; a count marked "
        "as a lower bound says so, and so should the report):",
    ]
    lines += [
        f"{i}. {label}: {_call('summarize_processes', filter_arguments({**q, **count}))}"
        for i, (label, q) in enumerate(calls, 1)
    ]
    oldest = {**calls[-1][1], "sort": "updated_at", "limit": 3}
    lines += [
        f"{len(calls) + 1}. The three that have waited longest: {_call('list_processes', oldest)}",
        "   An instance skipped because it cannot sort by update time can be asked alone "
        "without sort (its newest first); say so.",
        "",
        "Report per backend: new, finished, cancelled or failed, and open but untouched; "
        "name the three that have waited longest, with their owners. Mention the answers' "
        "warnings (filters checked here rather than by the backend, instances skipped).",
    ]
    return "\n".join(lines)


def _workload(args: Mapping[str, str], now: datetime) -> str:
    owner = (args.get("owner") or "").strip()
    if not owner:
        raise PromptArgumentError("owner is empty; give a user id or email (completions list them)")
    query = {
        "backend": args.get("backend") or ALL,
        "collection": args.get("collection"),
        "owner": owner,
        "status": ["open"],
        "sort": "-updated_at",
        "limit": 50,
    }
    return "\n".join(
        [
            f"Find what {owner} is working on now (today is {now.date().isoformat()}).",
            "",
            f"1. Call {_call('list_processes', query)}",
            "   An instance that cannot filter by owner is skipped with a warning: say which.",
            "2. For the five most recently changed rows call "
            + _call("get_process", {"backend": "<the row's backend>", "id": "<the row's id>"})
            + ' with "include": ["tasks"], and pick out the tasks assigned to '
            f"{owner}, overdue ones first.",
            f"3. Answer: {owner}'s open processes grouped by backend (status, due date, their "
            "open tasks), then what is overdue and what is due this week.",
        ]
    )


_BACKEND = Arg("backend", 'Instance name, or "all" (default).')
_COLLECTION = Arg("collection", "Collection of that backend (default: its main one).")

PROMPTS: tuple[PromptDef, ...] = (
    PromptDef(
        name="stuck_processes",
        title="Stuck processes",
        description="Open processes with no change for some days, and what blocks each.",
        arguments=(
            _BACKEND,
            _COLLECTION,
            Arg("template", "Template / definition / pipeline name (optional)."),
            Arg("days", "Days without change (default 14)."),
            Arg("native_status", "The backend's own statuses instead of open, comma-separated."),
            Arg("include", "get_process sections to inspect, comma-separated (default tasks)."),
        ),
        render=_stuck,
    ),
    PromptDef(
        name="status_report",
        title="Status report",
        description="New, finished, cancelled and stale processes over a period.",
        arguments=(
            _BACKEND,
            _COLLECTION,
            Arg("period", "7d (default), 30d, 4w, this-week, last-week, this-month, last-month."),
        ),
        render=_report,
    ),
    PromptDef(
        name="owner_workload",
        title="What is someone working on",
        description="A person's open processes and their open tasks, overdue first.",
        arguments=(
            Arg("owner", "User id or email.", required=True),
            _BACKEND,
            _COLLECTION,
        ),
        render=_workload,
    ),
)
BY_NAME = {p.name: p for p in PROMPTS}


def _invalid(message: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=message)


def render(
    name: str,
    arguments: Mapping[str, str] | None,
    now: datetime,
    backends: Sequence[str] | None = None,
) -> GetPromptResult:
    """The expanded prompt, or an Invalid-params MCPError that says how to fix the call."""
    definition = BY_NAME.get(name)
    if definition is None:
        raise _invalid(
            f"unknown prompt {shown(name)}; prompts/list names them: {', '.join(BY_NAME)}"
        )
    given = dict(arguments or {})
    known = {a.name for a in definition.arguments}
    extra = sorted(set(given) - known)
    if extra:
        raise _invalid(
            f"prompt {name} has no argument {', '.join(shown(label(e)) for e in extra[:5])}; "
            f"it takes: {', '.join(sorted(known))}"
        )
    missing = [a.name for a in definition.arguments if a.required and not given.get(a.name)]
    if missing:
        raise _invalid(f"prompt {name} needs {', '.join(missing)}")
    backend = given.get("backend")
    if backend and backends is not None and backend not in (ALL, *backends):
        close = difflib.get_close_matches(backend, backends, n=1)
        hint = f"did you mean {shown(close[0])}? " if close else ""
        raise _invalid(
            f"prompt {name}: no backend {shown(backend)}; {hint}use one of: "
            f"{', '.join(backends)} or all"
        )
    try:
        text = definition.render(given, now)
    except PromptArgumentError as exc:
        raise _invalid(f"prompt {name}: {exc}") from None
    return GetPromptResult(
        description=definition.description,
        messages=[PromptMessage(role="user", content=TextContent(type="text", text=text))],
    )


def install(
    server: MCPServer[Any],
    backends: Callable[[], Sequence[str]],
    clock: Callable[[], datetime] | None = None,
) -> None:
    """Register the prompts; `backends` names the configured instances (for checking the
    backend argument, no backend is contacted)."""
    now = clock or (lambda: datetime.now(UTC).replace(microsecond=0))
    for d in PROMPTS:
        server.add_prompt(
            Prompt(
                name=d.name,
                title=d.title,
                description=d.description,
                arguments=[
                    PromptArgument(name=a.name, description=a.description, required=a.required)
                    for a in d.arguments
                ],
                fn=lambda: "",  # never called: prompts/get is served by `render`
            )
        )

    async def get(
        ctx: ServerRequestContext[Any, Any], params: GetPromptRequestParams
    ) -> GetPromptResult:
        return render(params.name, params.arguments, now(), backends())

    lowlevel(server).add_request_handler("prompts/get", GetPromptRequestParams, get)
