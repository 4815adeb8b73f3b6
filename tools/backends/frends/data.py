"""Deterministic Frends sandbox data: environments with their agent groups, integration
processes (every version, drafts, subprocesses, process variables with secrets) and their
executions (process instances) per agent group.

Definitions are kept as light `Definition` records; their heavy wire parts (BPMN XML,
element parameters, graph data) are rendered on demand by `tools.backends.frends.wire`,
so 10,000 versions cost little memory and generate in well under a second. Instances are
stored in their wire form (what `GET /instances/{agentGroupId}` returns).

`CANARY_SECRET` is the value of one secret process variable. It also sits where careless
developers put such values in real tenants: a task parameter, the BPMN documentation, a
version's change description and one execution's exception text. No tool answer, export or
log line may ever show it.
"""

from __future__ import annotations

import functools
import random
from datetime import UTC, datetime, timedelta

from tools.backends.frends.data_hostile import add_hostile
from tools.backends.frends.executions import add_executions
from tools.backends.frends.records import (
    CANARY_PROCESS,
    CANARY_SECRET,
    FRENDS_VERSION,
    Definition,
    FrendsData,
    Json,
    Step,
    Variable,
    iso,
    new_uuid,
    parse_time,
    weighted,
)
from tools.sim import fake

__all__ = [
    "CANARY_PROCESS",
    "CANARY_SECRET",
    "FRENDS_VERSION",
    "Definition",
    "FrendsData",
    "Json",
    "Step",
    "Variable",
    "generate",
    "iso",
    "parse_time",
]

DEFAULT_NOW = datetime(2026, 11, 15, 12, 0, 0, tzinfo=UTC)
SPAN = timedelta(days=730)

ENTITIES = (
    "Customers", "Orders", "Invoices", "Products", "Employees", "Shipments", "Payments",
    "Contacts", "Stock Levels", "Price Lists", "Suppliers", "Purchase Orders", "Timesheets",
    "Tickets",
)  # fmt: skip
SYSTEMS = (
    "SAP", "Salesforce", "Dynamics 365", "NetSuite", "Workday", "ServiceNow", "HubSpot",
    "Shopify", "SharePoint", "SFTP", "Azure Blob", "Visma", "Oracle EBS", "Snowflake",
)  # fmt: skip
REGIONS = ("EU", "US", "UK", "APAC", "Nordics", "DACH", "LATAM", "Canada")
CHANGES = (
    "Added retry on timeout", "Switched to OAuth client credentials",
    "Increased batch size to 500", "Fixed date mapping for UTC", "Added error notification",
    "Updated target endpoint", "Moved mapping into a subprocess", "Log fewer fields",
    "Handle empty result set", "Upgraded HTTP task to 1.4",
)  # fmt: skip

# (kind, share of the versions in a data set); subprocesses are called by the others.
_KINDS = (("sync", 30), ("api", 20), ("import", 12), ("event", 12), ("report", 8), ("sub", 18))
_VERSION_COUNTS = ((1, 35), (2, 25), (3, 18), (4, 10), (5, 7), (6, 5))


def generate(
    seed: int = 7,
    processes: int = 300,
    instances: int = 600,
    now: datetime = DEFAULT_NOW,
    *,
    hostile_records: bool = True,
) -> FrendsData:
    """`processes` definition rows (versions and drafts) and `instances` executions, plus
    (unless `hostile_records=False`) the hostile ones of data_hostile.py on top."""
    data = _Generator(random.Random(seed), now).build(seed, processes, instances)
    if hostile_records:
        add_hostile(data, random.Random(f"frends-hostile-{seed}"))
    return data


@functools.cache
def _slug(text: str) -> str:
    return fake.slug(text, sep="-")


@functools.cache
def _ident(text: str) -> str:
    return "".join(w.capitalize() for w in fake.slug(text, sep=" ").split())


class _Generator:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.used_times: set[datetime] = set()
        self.names: set[str] = set()

    def build(self, seed: int, n_definitions: int, n_instances: int) -> FrendsData:
        rng = self.rng
        domain = fake.domain(fake.company(rng))
        self.users = [fake.email(p, domain) for p in fake.people(rng, 14)]
        environments, groups = _environments()
        definitions = self._definitions(max(0, n_definitions))
        data = FrendsData(
            seed=seed,
            now=self.now,
            users=self.users,
            environments=environments,
            agent_groups=groups,
            definitions=definitions,
        )
        if definitions:
            add_executions(rng, self.now, data, self.users, max(0, n_instances))
        return data

    # -- definitions -----------------------------------------------------------------------

    def _unique_time(self, moment: datetime) -> datetime:
        """Whole seconds never repeat, so every order by time is total without ties."""
        moment = min(moment, self.now).replace(microsecond=0)
        while moment in self.used_times:
            moment -= timedelta(seconds=1)
        self.used_times.add(moment)
        return moment

    def _definitions(self, n: int) -> list[Definition]:
        rng = self.rng
        rows: list[Definition] = []
        first = True
        while len(rows) < n:
            kind = "sync" if first else weighted(rng, _KINDS)
            rows.extend(self._process(kind, n - len(rows), canary=first))
            first = False
        rows.sort(key=lambda d: d.modified)
        by_guid: dict[str, list[Definition]] = {}
        for i, row in enumerate(rows):
            row.id = 2001 + i
            by_guid.setdefault(row.guid, []).append(row)
        drafts = 0
        for versions in by_guid.values():
            published = [v for v in versions if not v.is_draft]
            if published:
                published[-1].latest = True
            for v in versions:
                if v.is_draft:
                    drafts += 1
                    v.draft_id = drafts
                    v.base_id = published[-1].id if published else None
        return rows

    def _process(self, kind: str, room: int, *, canary: bool) -> list[Definition]:
        rng = self.rng
        name, src, dst, entity = self._name(kind, canary)
        guid = new_uuid(rng)
        count = max(3, weighted(rng, _VERSION_COUNTS)) if canary else weighted(rng, _VERSION_COUNTS)
        has_draft = not canary and rng.random() < 0.15
        start = fake.datetime_between(rng, self.now - SPAN, self.now - timedelta(days=2))
        times = [start]
        for _ in range(count - 1):
            nxt = times[-1] + timedelta(seconds=rng.randint(3600, 120 * 86400))
            if nxt > self.now - timedelta(hours=1):
                break
            times.append(nxt)
        versions = [(t, False) for t in times]
        if has_draft:
            draft_at = times[-1] + timedelta(seconds=rng.randint(600, 30 * 86400))
            versions.append((min(draft_at, self.now - timedelta(minutes=5)), True))
        versions = versions[: max(1, room)]
        variables = self._variables(kind, src, dst, canary)
        trigger, trigger_params = _trigger(kind, entity, src)
        description = self._description(kind, entity, src, dst)
        out: list[Definition] = []
        for number, (moment, draft) in enumerate(versions, start=1):
            if canary and number == 2:
                change: str | None = f"Rotated SAP password to {CANARY_SECRET}"
            else:
                change = "Initial version" if number == 1 else rng.choice(CHANGES)
            steps = _steps(kind, entity, src, dst, min(number, 3), canary)
            out.append(
                Definition(
                    id=0,
                    guid=guid,
                    version=number,
                    name=name,
                    kind=kind,
                    modified=self._unique_time(moment),
                    modifier=rng.choice(self.users),
                    description=description,
                    change=change,
                    is_subprocess=kind == "sub",
                    is_draft=draft,
                    trigger=trigger,
                    trigger_params=trigger_params,
                    steps=steps,
                    variables=variables,
                    documentation=(
                        f"Logs on to SAP as SVC_FRENDS (password {CANARY_SECRET} until rotation)."
                        if canary
                        else None
                    ),
                )
            )
        # Keep sub-second parts: _unique_time dropped them to compare whole seconds.
        for row in out:
            row.modified = row.modified + timedelta(milliseconds=rng.randint(0, 999))
        return out

    def _name(self, kind: str, canary: bool) -> tuple[str, str, str, str]:
        rng = self.rng
        if canary:
            self.names.add(CANARY_PROCESS)
            return CANARY_PROCESS, "Salesforce", "SAP", "Customers"
        entity = rng.choice(ENTITIES)
        src, dst = rng.sample(SYSTEMS, 2)
        base = {
            "sync": f"Sync {entity} from {src} to {dst}",
            "api": f"API - {rng.choice(('Get', 'Create', 'Update'))} {entity}",
            "import": f"Import {entity} CSV from {src}",
            "event": f"Handle {entity} Events from {src}",
            "report": f"Daily {entity} Report to {dst}",
            "sub": rng.choice(
                (
                    f"Sub - Validate {entity}",
                    f"Sub - Map {entity} to Canonical",
                    f"Sub - Get OAuth Token for {src}",
                    "Sub - Send Email Notification",
                    "Sub - Log to Application Insights",
                )
            ),
        }[kind]
        # Large data sets outgrow the plain names: tenants then add a region, then a number.
        candidates = [base, *(f"{base} ({r})" for r in REGIONS)]
        name = next((c for c in candidates if c not in self.names), None)
        n = 2
        while name is None:
            name = f"{base} {n}" if f"{base} {n}" not in self.names else None
            n += 1
        self.names.add(name)
        return name, src, dst, entity

    def _variables(self, kind: str, src: str, dst: str, canary: bool) -> tuple[Variable, ...]:
        rng = self.rng
        out = [
            Variable("BatchSize", rng.choice((100, 250, 500, 1000)), description="Rows per call"),
            Variable(f"{_ident(src)}BaseUrl", f"https://api.{_slug(src)}.example/v2"),
        ]
        if canary:
            out.append(Variable("SapPassword", CANARY_SECRET, True, "SVC_FRENDS logon"))
        elif rng.random() < 0.6:
            value = (
                f"#env.{_ident(src)}.ClientSecret"
                if rng.random() < 0.4
                else "".join(
                    rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789", k=24)
                )
            )
            out.append(Variable(f"{_ident(src)}ClientSecret", value, True))
        if kind in ("sync", "report") and rng.random() < 0.5:
            out.append(Variable("NotifyEmail", f"integrations@{_slug(dst)}.example"))
        return tuple(out)

    def _description(self, kind: str, entity: str, src: str, dst: str) -> str | None:
        rng = self.rng
        if rng.random() < 0.1:
            return None
        first = {
            "sync": f"Keeps {entity.lower()} in {dst} in step with {src}.",
            "api": f"REST endpoint for {entity.lower()}, backed by {src}.",
            "import": f"Loads the nightly {entity.lower()} file from {src}.",
            "event": f"Reacts to {entity.lower()} changes published by {src}.",
            "report": f"Sends the daily {entity.lower()} summary to {dst}.",
            "sub": "Shared step called by other processes.",
        }[kind]
        team = rng.choice(("Integration Platform", "Finance IT", "Sales Ops", "HR Systems"))
        return f"{first}\nOwner team: {team}.\nRunbook: https://wiki.example/integrations/{_slug(entity)}"


def _environments() -> tuple[list[Json], list[Json]]:
    """Three environments, one agent group each (ids 1-3), two agents in production."""
    environments: list[Json] = []
    groups: list[Json] = []
    for env_id, name in ((1, "Development"), (2, "Test"), (3, "Production")):
        agent_count = 2 if name == "Production" else 1
        agents = [
            {"id": env_id * 10 + n, "name": f"{name[:4].lower()}-agent-{n:02d}"}
            for n in range(1, agent_count + 1)
        ]
        group = {
            "id": env_id,
            "displayName": name,
            "internalName": name,
            "isCrossPlatform": True,
            "agents": agents,
            "environment": {"id": env_id, "displayName": name, "internalName": name},
        }
        groups.append(group)
        environments.append(
            {"id": env_id, "displayName": name, "internalName": name, "agentGroups": [group]}
        )
    return environments, groups


def _trigger(kind: str, entity: str, src: str) -> tuple[str, dict[str, str]]:
    slug = _slug(entity)
    if kind == "api":
        return "Http", {"method": "POST", "path": f"/api/v1/{slug}"}
    if kind == "import":
        return "FileWatch", {"path": f"\\\\files\\in\\{slug}", "filter": "*.csv"}
    if kind == "event":
        return "ServiceBus", {"queue": f"{slug}-events"}
    if kind == "sub":
        return "Callable", {}
    cron = "0 0 6 * * *" if kind == "report" else "0 */15 * * * *"
    return "Schedule", {"cron": cron}


@functools.cache
def _steps(
    kind: str, entity: str, src: str, dst: str, version: int, canary: bool
) -> tuple[Step, ...]:
    e = entity.lower()
    conn = ("ConnectionString", f"#env.{_ident(src)}.ConnectionString")
    if canary:
        # A hard-coded credential in a task parameter: exactly what secret scrubbing is for.
        conn = ("ConnectionString", f"ashost=sap-prod;user=SVC_FRENDS;passwd={CANARY_SECRET}")
    steps: list[Step] = [Step("start", "Start")]
    if kind == "sync":
        steps += [
            Step("task", f"Get {e} from {src}", f"Frends.{_ident(src)}.Query", (conn,)),
            Step("code", f"Map to {dst} format"),
            Step("decision", "Any changes?"),
            Step("task", f"Upsert {e} in {dst}", f"Frends.{_ident(dst)}.Upsert"),
        ]
    elif kind == "api":
        steps += [
            Step("code", "Validate request"),
            Step("task", f"Query {src}", "Frends.HTTP.Request", (("Url", "#var.BaseUrl"),)),
            Step("code", "Build response"),
        ]
    elif kind == "import":
        steps += [
            Step("task", "Read file", "Frends.Files.Read"),
            Step("code", "Parse CSV"),
            Step("task", f"Insert {e} into {dst}", "Frends.MicrosoftSQL.BulkInsert", (conn,)),
            Step("task", "Archive file", "Frends.Files.Move"),
        ]
    elif kind == "event":
        steps += [
            Step("code", "Deserialize message"),
            Step("decision", "Known event type?"),
            Step("task", f"Update {e} in {dst}", "Frends.HTTP.Request"),
        ]
    elif kind == "report":
        steps += [
            Step("task", f"Query {e}", "Frends.MicrosoftSQL.ExecuteQuery", (conn,)),
            Step("code", "Render HTML table"),
            Step("task", "Send email", "Frends.Email.SendEmail"),
        ]
    else:
        steps += [Step("code", "Check input"), Step("code", "Build result")]
    if version >= 2 and kind != "sub":
        steps.append(
            Step("call", "Log to Application Insights", "Sub - Log to Application Insights")
        )
    if version >= 3:
        steps.insert(2, Step("code", "Retry policy"))
    steps.append(Step("end", "Return"))
    return tuple(steps)
