"""Executions (process instances) of the Frends sandbox data, per agent group, from the
definitions that existed at the time - including executions of older versions: an agent
group may keep running the version deployed to it after a newer one was saved, as
Production often does (see `_Executions.lagging`)."""

from __future__ import annotations

import bisect
import random
from datetime import datetime, timedelta

from tools.backends.frends.records import (
    CANARY_PROCESS,
    CANARY_SECRET,
    Definition,
    FrendsData,
    Json,
    iso,
    new_uuid,
    parse_time,
    weighted,
)
from tools.sim import fake

EXCEPTIONS = (
    "System.Net.Http.HttpRequestException: Response status code does not indicate success: "
    "503 (Service Unavailable).",
    "System.TimeoutException: The operation has timed out after 00:01:40.",
    "Microsoft.Data.SqlClient.SqlException (0x80131904): Violation of PRIMARY KEY constraint "
    "'PK_Staging'. Cannot insert duplicate key.",
    "Frends.Json.ValidationException: Validation failed: property 'email' is required (row 17).",
    "System.IO.IOException: The process cannot access the file because it is being used by "
    "another process.",
)
STACK = (
    "\n   at Frends.Tasks.Runtime.TaskInvoker.InvokeAsync(TaskContext context)"
    "\n   at Frends.Agent.ProcessExecution.RunElementAsync(Element element)"
)

_STATES = (("Running", 4), ("Ok", 84), ("Failed", 12))
_GROUP_SHARE = ((3, 60), (2, 25), (1, 15))  # agent group id -> share of executions
PRODUCTION = 3
# Share of the processes with several versions whose newest version never reached
# production: production keeps running the one before it (picked from the guid, so the
# random sequence, and every other generated value, stays what it was).
LAGGING_PERCENT = 30


def add_executions(
    rng: random.Random, now: datetime, data: FrendsData, users: list[str], n: int
) -> None:
    """`n` executions over the agent groups of `data`, stored in `data.instances`."""
    _Executions(rng, now, data, users).build(n)


def lagging(guid: str) -> bool:
    """Whether production runs this process's previous version instead of its latest."""
    return int(guid.replace("-", "")[:8], 16) % 100 < LAGGING_PERCENT


class _Executions:
    """Process instances per agent group, from the definitions that existed at the time."""

    def __init__(
        self, rng: random.Random, now: datetime, data: FrendsData, users: list[str]
    ) -> None:
        self.rng = rng
        self.now = now
        self.data = data
        self.users = users
        self.used: dict[int, set[datetime]] = {}
        versions: dict[str, list[Definition]] = {}
        for d in data.definitions:
            if not d.is_draft:
                versions.setdefault(d.guid, []).append(d)
        self.versions = versions
        self.main = [g for g, vs in versions.items() if not vs[0].is_subprocess]
        # Subprocesses by first version, so "those that existed then" is a prefix.
        self.subs = sorted(
            (g for g, vs in versions.items() if vs[0].is_subprocess),
            key=lambda g: versions[g][0].modified,
        )
        self.sub_births = [versions[g][0].modified for g in self.subs]
        self.groups = {g["id"]: g for g in data.agent_groups}

    def build(self, n: int) -> None:
        rng = self.rng
        if not self.main:
            self.main = self.subs
        per_group: dict[int, list[Json]] = {g: [] for g in self.groups}
        children = int(n * 0.2) if self.subs and self.main is not self.subs else 0
        canary = next((g for g in self.main if self.versions[g][0].name == CANARY_PROCESS), None)
        for i in range(n - children):
            forced = canary if (i == 0 and canary) else None
            # The canary's failed execution lands in production, the sandbox's agent group.
            group = 3 if forced else weighted(rng, _GROUP_SHARE)
            per_group[group].append(self._instance(group, forced))
        for _ in range(children):
            group = weighted(rng, _GROUP_SHARE)
            parents = per_group[group] or next(v for v in per_group.values() if v)
            parent = rng.choice(parents)
            per_group[parent["agentGroupId"]].append(self._child(parent))
        next_id = 90001
        every = sorted(
            (r for rows in per_group.values() for r in rows), key=lambda r: r["startTimeUtc"]
        )
        for row in every:
            row["id"] = next_id
            next_id += 1
        for group, rows in per_group.items():
            rows.sort(key=lambda r: r["startTimeUtc"])
            by_exec = {r["executionId"]: r for r in rows}
            for row in rows:
                caller = by_exec.get(row.pop("_parent", ""))
                if caller is not None:
                    row["parentId"] = caller["id"]
            self.data.instances[group] = rows
        for rows in per_group.values():
            for row in rows:
                row.pop("_name", None)

    def _start(self, group: int, lo: datetime, hi: datetime) -> datetime:
        used = self.used.setdefault(group, set())
        moment = fake.datetime_between(self.rng, lo, max(lo, hi))
        while moment in used:
            moment += timedelta(seconds=1)
        used.add(moment)
        return moment + timedelta(milliseconds=self.rng.randint(0, 999))

    def _version_at(self, guid: str, moment: datetime, group: int) -> Definition:
        vs = self.versions[guid]
        i = bisect.bisect_right(vs, moment, key=lambda v: v.modified)
        if group == PRODUCTION and i == len(vs) and len(vs) > 1 and lagging(guid):
            i -= 1  # the latest version was saved but not deployed to production
        return vs[max(0, i - 1)]

    def _instance(self, group: int, forced: str | None) -> Json:
        rng = self.rng
        guid = forced or rng.choice(self.main)
        first = self.versions[guid][0].modified
        state = "Failed" if forced else weighted(rng, _STATES)
        if state == "Running":
            lo = max(first, self.now - timedelta(hours=6))
            start = self._start(group, lo, self.now - timedelta(minutes=1))
        else:
            start = self._start(group, first, self.now - timedelta(minutes=20))
        definition = self._version_at(guid, start, group)
        return self._row(group, definition, state, start, forced is not None)

    def _child(self, parent: Json) -> Json:
        rng = self.rng
        group = parent["agentGroupId"]
        start = parse_time(parent["startTimeUtc"])
        born = bisect.bisect_right(self.sub_births, start)
        guid = rng.choice(self.subs[:born] or self.subs)
        moment = self._start(group, start + timedelta(seconds=1), start + timedelta(seconds=20))
        failed = parent["state"] == "Failed"
        state = rng.choice(("Ok", "Failed")) if failed else parent["state"]
        row = self._row(group, self._version_at(guid, moment, group), state, moment, False)
        row["parentName"] = parent["_name"]
        row["rootProcessId"] = parent["processId"]
        row["_parent"] = parent["executionId"]
        row["triggerName"] = "Called by parent process"
        row["userName"] = None
        return row

    def _row(self, group: int, d: Definition, state: str, start: datetime, canary: bool) -> Json:
        rng = self.rng
        info = self.groups[group]
        env = info["environment"]
        agent = rng.choice(info["agents"])
        end: datetime | None = None
        if state != "Running":
            end = start + timedelta(milliseconds=rng.randint(300, 600_000))
        manual = rng.random() < 0.05
        exception = None
        acknowledged = None
        if state == "Failed":
            if canary:
                exception = (
                    "Frends.Sap.SapException: RFC_ERROR_LOGON_FAILURE for SVC_FRENDS using "
                    f"password '{CANARY_SECRET}'" + STACK
                )
            else:
                exception = rng.choice(EXCEPTIONS) + STACK
            if end is not None and rng.random() < 0.4:
                acknowledged = iso(end + timedelta(hours=rng.randint(1, 48)))
        execution = new_uuid(rng)
        promoted: list[Json] = []
        if state == "Ok" and d.kind in ("sync", "import"):
            promoted.append(
                {
                    "id": rng.randint(1, 10**9),
                    "processExecutionId": execution,
                    "timeStamp": iso(end or start),
                    "environmentName": env["displayName"],
                    "promotedVariableName": "RowsProcessed",
                    "promotedValueJson": str(rng.randint(0, 5000)),
                }
            )
        return {
            "id": 0,
            "parentId": None,
            "processId": d.id,
            "rootProcessId": None,
            "processVersion": d.version,
            "state": state,
            "startTimeUtc": iso(start),
            "endTimeUtc": iso(end) if end else None,
            "utcDate": iso(start.replace(hour=0, minute=0, second=0, microsecond=0)),
            "utcHour": start.hour,
            "executionId": execution,
            "triggerId": d.id * 10 + 1,
            "agentId": agent["id"],
            "environmentId": env["id"],
            "agentGroupId": group,
            "exception": exception,
            "userName": rng.choice(self.users) if manual else None,
            "stepsLoggedToBlobs": False,
            "hasLoggedSteps": True,
            "acknowledgedUtc": acknowledged,
            "commentJson": None,
            "comment": "Known SAP outage, rerun done"
            if acknowledged and rng.random() < 0.5
            else None,
            "promotedData": promoted,
            "triggerName": "Manual" if manual else _trigger_name(d),
            "environmentName": env["displayName"],
            "agentName": agent["name"],
            "processGuid": d.guid,
            "parentName": None,
            "triggerRequest": None,
            "triggerResponses": [],
            "promotedColumns": [
                {"name": p["promotedVariableName"], "value": p["promotedValueJson"]}
                for p in promoted
            ],
            "_name": d.name,
        }


def _trigger_name(d: Definition) -> str:
    p = d.trigger_params
    if d.trigger == "Http":
        return f"HTTP {p['method']} {p['path']}"
    if d.trigger == "FileWatch":
        return f"File watch {p['path']}"
    if d.trigger == "ServiceBus":
        return f"Service Bus {p['queue']}"
    if d.trigger == "Schedule":
        return "Daily 06:00" if p["cron"].startswith("0 0 6") else "Every 15 minutes"
    return "Called by parent process"
