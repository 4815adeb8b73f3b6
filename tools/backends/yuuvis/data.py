"""Deterministic yuuvis Momentum BPM sandbox data: one tenant, its users (one tenant admin,
the rest ordinary users), process definitions in several versions, and process instances
with variables, task history and call-activity sub-processes.

Instances are stored in their list wire form (reference D: id, name, businessKey,
processDefinitionId `key:version:uuid`, ..., `variables` left out). Side tables keyed by
instance id hold what the list does not show: variables, history tasks, the super-process
of a sub-process, the users involved, and the parsed start time (for fast filtering).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.backends.yuuvis.data_spec import (
    CALLS_SUB,
    DEFAULT_NOW,
    DEFINITIONS,
    DELETE_REASONS,
    DOC_WORDS,
    SPAN,
    STATUS_WEIGHTS,
    SUB_KEY,
    TENANT,
    Definition,
)
from tools.sim import fake, hostile

__all__ = ["DEFINITIONS", "SUB_KEY", "Json", "YuuvisData", "generate", "iso_offset", "parse_time"]

Json = dict[str, Any]


@dataclass(frozen=True)
class YuuvisData:
    seed: int
    now: datetime
    tenant: str
    users: list[Json]  # id, username, name, email, password, token, admin
    definitions: list[Json]  # wire form, every version
    instances: list[Json]  # list wire form without variables, ordered by (startTime, id)
    variables: dict[str, list[Json]]  # instance id -> Flowable REST variables
    tasks: dict[str, list[Json]]  # instance id -> history tasks, oldest first
    parent: dict[str, str]  # sub-process id -> its super-process id
    involved: dict[str, frozenset[str]]  # instance id -> starter and task assignees
    started: dict[str, datetime]  # instance id -> start time (parsed)

    @property
    def admin(self) -> Json:
        return next(u for u in self.users if u["admin"])

    def user(self, username: str) -> Json:
        return next(u for u in self.users if u["username"] == username)

    def own_instances(self, user_id: str) -> list[Json]:
        return [i for i in self.instances if i["startUserId"] == user_id]


def iso_z(moment: datetime) -> str:
    """The list example's form: `2021-11-01T12:28:46.363Z`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_offset(moment: datetime) -> str:
    """The single-instance example's form: `2018-04-17T10:17:43.902+0000`."""
    return iso_z(moment)[:-1] + "+0000"


def parse_time(text: str) -> datetime:
    """Either wire form (or any ISO 8601 with an offset) to an aware datetime."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def generate(
    seed: int = 7,
    instances: int = 300,
    now: datetime = DEFAULT_NOW,
    *,
    hostile_records: bool = True,
) -> YuuvisData:
    """`instances` regular instances, plus (unless `hostile_records=False`) one per hostile
    name of tools/sim/hostile.py, drawn from a stream of their own after the regular ones."""
    hostile_stream = random.Random(f"yuuvis-hostile-{seed}") if hostile_records else None
    return _Generator(random.Random(seed), now).build(seed, instances, hostile_stream)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class _Generator:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now.astimezone(UTC).replace(microsecond=0)

    def build(self, seed: int, n: int, hostile_stream: random.Random | None = None) -> YuuvisData:
        self.users = self._users()
        self.definitions, self.def_ids = self._definitions()
        self.variables: dict[str, list[Json]] = {}
        self.tasks: dict[str, list[Json]] = {}
        self.parent: dict[str, str] = {}
        self.involved: dict[str, frozenset[str]] = {}
        rows: list[Json] = []
        plan = self._status_mix(n)
        top = [d for d in DEFINITIONS if d.key != SUB_KEY]
        i = 0
        while len(rows) < n:
            status = plan[i % len(plan)]
            i += 1
            definition = self.rng.choice(top)
            row = self._instance(definition, status, self._starter(), None)
            rows.append(row)
            wants_sub = definition.key in CALLS_SUB and self.rng.random() < 0.35
            if wants_sub and len(rows) < n:
                rows.append(self._sub_process(row))
        # A few instances share a start time to the millisecond: ties go by id.
        related = set(self.parent) | set(self.parent.values())
        for _ in range(max(1, n // 50) if len(rows) > 1 else 0):
            a, b = self.rng.sample(range(len(rows)), 2)
            if rows[a]["id"] not in related and rows[b]["id"] not in related:
                self._copy_start(rows[b], rows[a])
        if hostile_stream is not None and rows:
            rows += self._hostile(hostile_stream, top)
        started = {r["id"]: parse_time(r["startTime"]) for r in rows}
        rows.sort(key=lambda r: (started[r["id"]], r["id"]))
        return YuuvisData(
            seed=seed,
            now=self.now,
            tenant=TENANT,
            users=self.users,
            definitions=self.definitions,
            instances=rows,
            variables=self.variables,
            tasks=self.tasks,
            parent=self.parent,
            involved=self.involved,
            started=started,
        )

    def _hostile(self, rng: random.Random, top: list[Definition]) -> list[Json]:
        """Instances whose name, starter, variables and a task name break naive rendering
        (the starter is any string the starting client sent: here, some are hostile)."""
        self.rng = rng
        out: list[Json] = []
        for n, name in enumerate(hostile.NAMES):
            starter = self._starter()
            if n % 2:
                starter = {**starter, "id": hostile.OWNER}
            status = rng.choice(("running", "running", "completed", "deleted"))
            row = self._instance(rng.choice(top), status, starter, None)
            row["name"] = name
            variables = self.variables[row["id"]]
            variables.append(_var("note", "string", hostile.FIELD_VALUES[n % 4]))
            variables.append(_var("remark", "string", hostile.DESCRIPTION))
            if n % 3 == 0 and self.tasks[row["id"]]:
                self.tasks[row["id"]][0]["name"] = hostile.TASK
            out.append(row)
        return out

    # -- directory ---------------------------------------------------------------------

    def _users(self) -> list[Json]:
        users: list[Json] = []
        for i, person in enumerate(fake.people(self.rng, 10)):
            username = fake.slug(person.full_name)
            users.append(
                {
                    "id": _uuid(self.rng),
                    "username": username,
                    "name": person.full_name,
                    "email": fake.email(person, "acme.test"),
                    "password": f"sandbox-{username}",
                    "token": "sandbox-yuuvis-token" if i == 0 else f"sandbox-token-{username}",
                    "admin": i == 0,
                }
            )
        return users

    def _starter(self) -> Json:
        # One busy ordinary user (users[1]) so a non-admin sees plenty of own processes.
        weights = [10, 30] + [60 / (len(self.users) - 2)] * (len(self.users) - 2)
        return self.rng.choices(self.users, weights)[0]

    def _definitions(self) -> tuple[list[Json], dict[str, list[str]]]:
        out: list[Json] = []
        ids: dict[str, list[str]] = {}
        for d in DEFINITIONS:
            for version in range(1, d.versions + 1):
                def_id = f"{d.key}:{version}:{_uuid(self.rng)}"
                ids.setdefault(d.key, []).append(def_id)
                out.append(
                    {
                        "id": def_id,
                        "category": d.category,
                        "key": d.key,
                        "name": d.name,
                        "description": d.description,
                        "version": version,
                        "global": False,
                        "startFormDefined": d.key != SUB_KEY,
                        "suspended": False,
                    }
                )
        return out, ids

    def _status_mix(self, n: int) -> list[str]:
        total = sum(STATUS_WEIGHTS.values())
        mix = [s for s, w in STATUS_WEIGHTS.items() for _ in range(max(1, n * w // total))]
        self.rng.shuffle(mix)
        return mix

    # -- instances ---------------------------------------------------------------------

    def _times(self, status: str) -> tuple[datetime, datetime | None]:
        rng = self.rng
        if status in ("running", "suspended"):
            start = fake.datetime_between(rng, self.now - timedelta(days=150), self.now)
            start = min(start, self.now - timedelta(minutes=5))
            return start + timedelta(milliseconds=rng.randint(0, 999)), None
        start = fake.datetime_between(rng, self.now - SPAN, self.now - timedelta(days=1))
        start += timedelta(milliseconds=rng.randint(0, 999))
        room = (self.now - start).total_seconds()
        seconds = min(room - 60, rng.choice((600, 7200, 86400, 5 * 86400, 20 * 86400)))
        seconds = max(60.0, seconds * rng.uniform(0.2, 1.0))
        return start, start + timedelta(seconds=seconds, milliseconds=rng.randint(0, 999))

    def _instance(
        self,
        d: Definition,
        status: str,
        starter: Json,
        parent: Json | None,
        times: tuple[datetime, datetime | None] | None = None,
    ) -> Json:
        rng = self.rng
        start, end = times or self._times(status)
        inst_id = _uuid(rng)
        versions = self.def_ids[d.key]
        # Most instances run on the latest version, some on older ones.
        def_id = versions[-1] if rng.random() < 0.7 else rng.choice(versions)
        name, business_key, variables = self._content(d, start, parent)
        row: Json = {
            "id": inst_id,
            "name": name,
            "businessKey": business_key,
            "processDefinitionId": def_id,
            "processDefinitionName": d.name,
            "processDefinitionDescription": d.description,
            "startUserId": starter["id"],
            "startTime": iso_z(start),
            "deleteReason": rng.choice(DELETE_REASONS) if status == "deleted" else None,
            "endActivityId": "endEvent1" if status == "completed" else None,
            "startActivityId": "startEvent1",
            "durationInMillis": _millis(end - start) if end else None,
            "endTime": iso_z(end) if end else None,
            "suspended": status == "suspended",
        }
        self.variables[inst_id] = variables
        self.tasks[inst_id] = self._history(d, status, start, end, starter)
        assignees = {t["assignee"] for t in self.tasks[inst_id] if t["assignee"]}
        self.involved[inst_id] = frozenset({starter["id"], *assignees})
        if parent is not None:
            self.parent[inst_id] = parent["id"]
        return row

    def _sub_process(self, parent: Json) -> Json:
        """A call activity's instance: same starter, starts after its parent and, when the
        parent has ended, ends no later than it (with the parent's delete reason)."""
        rng = self.rng
        start = parse_time(parent["startTime"])
        end = parse_time(parent["endTime"]) if parent["endTime"] else None
        limit = (end or self.now) - start
        sub_start = start + limit * rng.uniform(0.05, 0.4)
        if parent["deleteReason"]:
            status, sub_end = "deleted", end
        elif end is not None or rng.random() < 0.5:
            status = "completed"
            sub_end = sub_start + ((end or self.now) - sub_start) * rng.uniform(0.2, 0.9)
        else:
            status, sub_end = "running", None
        starter = next(u for u in self.users if u["id"] == parent["startUserId"])
        d = next(x for x in DEFINITIONS if x.key == SUB_KEY)
        row = self._instance(d, status, starter, parent, (sub_start, sub_end))
        if status == "deleted":
            row["deleteReason"] = parent["deleteReason"]
        return row

    def _copy_start(self, target: Json, source: Json) -> None:
        """Give `target` the start time of `source`, keeping its duration."""
        if target["endTime"] is not None:
            duration = timedelta(milliseconds=target["durationInMillis"])
            new_end = parse_time(source["startTime"]) + duration
            if new_end > self.now:
                return
            target["endTime"] = iso_z(new_end)
        elif parse_time(source["startTime"]) > self.now:
            return
        target["startTime"] = source["startTime"]

    def _content(
        self, d: Definition, start: datetime, parent: Json | None
    ) -> tuple[str, str | None, list[Json]]:
        """Instance name, business key and variables, in the style of each definition."""
        rng = self.rng
        org = fake.company(rng)
        who = fake.person(rng).full_name
        year = start.year
        v: list[Json] = []
        if parent is not None:
            decision = rng.choice(("approved", "rejected", "pending"))
            v += [_var("approver", "string", rng.choice(self.users)["name"])]
            v += [_var("decision", "string", decision)]
            return f"Approval step - {parent['name']}", parent["businessKey"], v
        if d.key == "invoice_approval":
            number = f"INV-{year}-{rng.randint(1, 99999):05d}"
            amount = round(rng.uniform(80, 48000), 2)
            v += [_var("invoiceNumber", "string", number), _var("vendor", "string", org)]
            v += [_var("amount", "double", amount), _var("currency", "string", "EUR")]
            v += [_binary("invoiceScan")]
            key: str | None = number
            name = f"Invoice {number} - {org}"
        elif d.key == "purchase_order":
            number = f"PO-{rng.randint(1000, 99999)}"
            discount = rng.choice(("", "", "", " (10% discount)", " (5% off_list)"))
            v += [_var("poNumber", "string", number), _var("supplier", "string", org)]
            v += [_var("total", "double", round(rng.uniform(500, 250000), 2))]
            v += [_var("costCenter", "string", f"CC-{rng.randint(100, 999)}")]
            key, name = number, f"Purchase order {number} {org}{discount}"
        elif d.key == "contract_review":
            key = f"CR-{rng.randint(100, 9999)}"
            v += [_var("contractId", "string", key), _var("counterparty", "string", org)]
            v += [_var("contractValue", "double", round(rng.uniform(1e4, 2e6), 2))]
            until = start + timedelta(days=365 * rng.randint(1, 3))
            v += [_var("validUntil", "date", iso_z(until))]
            name = f"Contract review {org}"
        elif d.key == "leave_request":
            days = rng.randint(1, 15)
            first = start + timedelta(days=rng.randint(7, 60))
            v += [_var("employee", "string", who), _var("days", "integer", days)]
            v += [_var("fromDate", "date", iso_z(first))]
            v += [_var("reason", "string", rng.choice(("Vacation", "Family", "Training")))]
            key, name = None, f"Leave request {who} ({days} days)"
        elif d.key == "document_release":
            doc = _uuid(rng)
            title = f"{rng.choice(DOC_WORDS)}.pdf"
            v += [_var("documentId", "string", doc), _var("title", "string", title)]
            v += [_var("version", "integer", rng.randint(1, 9))]
            key, name = doc, f"Release {title}"
        elif d.key == "employee_onboarding":
            v += [_var("employee", "string", who), _var("department", "string", d.category)]
            v += [_var("startDate", "date", iso_z(start + timedelta(days=14)))]
            key, name = None, f"Onboarding {who}"
        elif d.key == "follow-up":
            subject = rng.choice(("Call back", "Check payment", "Renew offer", "Send reminder"))
            v += [_var("subject", "string", f"{subject} {org}")]
            v += [_var("documentId", "string", _uuid(rng))]
            v += [_var("followUpDate", "date", iso_z(start + timedelta(days=rng.randint(1, 30))))]
            key, name = None, f"Follow-up: {subject} {org}"
        else:
            v += [_var("subject", "string", f"Test run for {who}")]
            key, name = "testBusinessKey", f"testProcessInstanceName {rng.randint(1, 999)}"
        if rng.random() < 0.25:
            v.append(_var("comment", "string", _long_note(rng, org, who)))
        if d.key in ("invoice_approval", "purchase_order", "contract_review"):
            v.append(_var("metadata", "json", {"source": "inbox", "priority": rng.randint(1, 3)}))
        return name, key, v

    def _history(
        self, d: Definition, status: str, start: datetime, end: datetime | None, starter: Json
    ) -> list[Json]:
        """Task history as the vendor client reads it: id, name, description, assignee,
        createTime, claimTime, endTime."""
        rng = self.rng
        steps = d.steps
        done = len(steps) if status == "completed" else rng.randrange(len(steps))
        last = end or self.now
        marks = sorted(start + (last - start) * rng.random() for _ in range(len(steps)))
        out: list[Json] = []
        created = start
        for pos, title in enumerate(steps):
            if pos > done:
                break
            finished = pos < done
            assignee = (
                starter["id"] if d.key == "twosteptest_proc" else rng.choice(self.users)["id"]
            )
            ended = marks[pos] if finished else None
            claimed = created + (((ended or last) - created) * 0.1)
            active = not finished and status in ("running", "suspended")
            if not finished and not active:
                break  # a deleted instance's open task ended with it: not in the history
            out.append(
                {
                    "id": _uuid(rng),
                    "name": title,
                    "description": f"{title} ({d.name})",
                    "assignee": assignee if rng.random() < 0.9 else None,
                    "createTime": iso_z(created),
                    "claimTime": iso_z(claimed),
                    "endTime": iso_z(ended) if ended else None,
                }
            )
            created = ended or created
        return out


def _var(name: str, type_: str, value: Any) -> Json:
    return {"name": name, "scope": "local", "type": type_, "value": value, "valueUrl": None}


def _binary(name: str) -> Json:
    """Binary variables carry no value, only where to fetch it."""
    return {
        "name": name,
        "scope": "local",
        "type": "binary",
        "value": None,
        "valueUrl": f"/bpm-engine/api/processes/variables/{name}/data",
    }


def _long_note(rng: random.Random, org: str, who: str) -> str:
    sentences = (
        f"Discussed with {who} from {org}.",
        "The amounts were checked against the framework agreement.",
        "Please keep the original documents in the contract folder.",
        "A second signature is needed above the delegated limit.",
        "Open questions were sent by e-mail; the answers are attached to the document.",
    )
    count = rng.choice((1, 2, 12))  # some notes are long enough to be truncated
    text = " ".join(rng.choice(sentences) for _ in range(count))
    return text if count < 12 else text + " End of note."


def _millis(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)
