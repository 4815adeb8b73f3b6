"""Deterministic Tallyfy sandbox data: one organization, its users, templates (checklists),
tags, folders and process runs with their tasks.

Objects are stored in their wire form (what `GET .../runs/{id}` returns without `with`), so
the simulator serves them as they are and tests can compare against them directly.
Relations (tasks, tags, folders, steps, kickoff fields) live in side tables keyed by id,
because the API only shows them when asked with `with=`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.backends.tallyfy.data_spec import (
    APPROVAL_WORDS,
    DEFAULT_NOW,
    DROPDOWN_OPTIONS,
    FOLDERS,
    SPAN,
    STATUS_WEIGHTS,
    SYSTEMS,
    TAGS,
    TEMPLATES,
    Template,
)
from tools.sim import fake, hostile

Json = dict[str, Any]


@dataclass(frozen=True)
class TallyfyData:
    seed: int
    now: datetime
    org_id: str
    users: list[Json]
    folders: list[Json]
    tags: list[Json]
    checklists: list[Json]
    steps: dict[str, list[Json]]  # checklist id -> steps by position
    kickoff_fields: dict[str, list[Json]]  # checklist id -> prerun field definitions
    runs: list[Json]  # oldest first
    tasks: dict[str, list[Json]]  # run id -> tasks by position
    run_tags: dict[str, list[str]]  # run id -> tag ids
    run_folders: dict[str, list[str]]  # run id -> folder ids
    assignees: dict[str, list[int]]  # run id -> user ids owning at least one task

    def run(self, run_id: str) -> Json | None:
        return next((r for r in self.runs if r["id"] == run_id), None)


def iso(moment: datetime, millis: bool = False) -> str:
    """Tallyfy's samples use both `…:00Z` and `…:00.000Z`; clients must accept both."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.000Z" if millis else f"{text}Z"


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def generate(
    seed: int = 7, runs: int = 300, now: datetime = DEFAULT_NOW, *, hostile_records: bool = True
) -> TallyfyData:
    """`runs` regular runs, plus (unless `hostile_records=False`) one run per hostile name of
    tools/sim/hostile.py, drawn from a stream of their own after the regular ones."""
    rng = random.Random(seed)
    gen = _Generator(rng, now)
    return gen.build(
        seed,
        runs,
        hostile_stream=random.Random(f"tallyfy-hostile-{seed}") if hostile_records else None,
    )


class _Generator:
    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now.astimezone(UTC).replace(microsecond=0)
        self.task_counter = 0

    def build(
        self, seed: int, n_runs: int, hostile_stream: random.Random | None = None
    ) -> TallyfyData:
        rng = self.rng
        org_id = fake.hex_id(rng)
        self.users = self._users()
        self.user_ids = [u["id"] for u in self.users]
        folders: list[Json] = [{"id": fake.hex_id(rng), "name": name} for name in FOLDERS]
        folder_ids = {f["name"]: f["id"] for f in folders}
        tags: list[Json] = [
            {"id": fake.hex_id(rng), "title": title, "color": color} for title, color in TAGS
        ]
        checklists, steps, kickoff = self._checklists(folder_ids)

        starts = self._creation_times(n_runs)
        runs: list[Json] = []
        tasks: dict[str, list[Json]] = {}
        run_tags: dict[str, list[str]] = {}
        run_folders: dict[str, list[str]] = {}
        assignees: dict[str, list[int]] = {}
        for index, (status, created) in enumerate(starts):
            template_index = rng.randrange(len(TEMPLATES))
            checklist = checklists[template_index]
            run, run_tasks = self._run(
                index, status, created, TEMPLATES[template_index], checklist, steps, kickoff
            )
            runs.append(run)
            tasks[run["id"]] = run_tasks
            run_tags[run["id"]] = [t["id"] for t in rng.sample(tags, _tag_count(rng))]
            folder = folder_ids[TEMPLATES[template_index].folder]
            run_folders[run["id"]] = [folder] if rng.random() < 0.7 else []
            owners = {uid for task in run_tasks for uid in task["owners"]["users"]}
            assignees[run["id"]] = sorted(owners)
        if hostile_stream is not None and checklists:
            self.rng = hostile_stream
            tag: Json = {"id": fake.hex_id(hostile_stream), "title": hostile.TAG, "color": "#000"}
            tags.append(tag)
            taken = {r["created_at"][:19] for r in runs}
            for n in range(len(hostile.NAMES)):
                t = hostile_stream.randrange(len(TEMPLATES))
                status = hostile_stream.choice(("active", "active", "delayed", "complete"))
                created = self._free_time(taken, status)
                run, run_tasks = self._run(
                    len(starts) + n, status, created, TEMPLATES[t], checklists[t], steps, kickoff
                )
                _make_hostile(run, run_tasks, n)
                runs.append(run)
                tasks[run["id"]] = run_tasks
                run_tags[run["id"]] = [tag["id"]] if n % 2 else []
                run_folders[run["id"]] = [folder_ids[TEMPLATES[t].folder]]
                assignees[run["id"]] = sorted({u for k in run_tasks for u in k["owners"]["users"]})
            runs.sort(key=lambda r: r["created_at"][:19])

        for checklist in checklists:
            checklist["started_processes"] = sum(
                1 for r in runs if r["checklist_id"] == checklist["id"]
            )
        return TallyfyData(
            seed=seed,
            now=self.now,
            org_id=org_id,
            users=self.users,
            folders=folders,
            tags=tags,
            checklists=checklists,
            steps=steps,
            kickoff_fields=kickoff,
            runs=runs,
            tasks=tasks,
            run_tags=run_tags,
            run_folders=run_folders,
            assignees=assignees,
        )

    def _users(self) -> list[Json]:
        rng = self.rng
        users: list[Json] = []
        for i, person in enumerate(fake.people(rng, 12)):
            created = fake.datetime_between(rng, self.now - 2 * SPAN, self.now - SPAN)
            users.append(
                {
                    "id": 1001 + i,
                    "email": fake.email(person, "acme.test"),
                    "username": fake.slug(person.full_name),
                    "first_name": person.first_name,
                    "last_name": person.last_name,
                    "full_name": person.full_name,
                    "role": "admin" if i < 2 else ("light" if i >= 10 else "standard"),
                    "status": "active",
                    "timezone": rng.choice(("Europe/Berlin", "America/Chicago", "UTC")),
                    "created_at": iso(created, millis=True),
                }
            )
        return users

    def _checklists(
        self, folder_ids: dict[str, str]
    ) -> tuple[list[Json], dict[str, list[Json]], dict[str, list[Json]]]:
        rng = self.rng
        checklists: list[Json] = []
        steps: dict[str, list[Json]] = {}
        kickoff: dict[str, list[Json]] = {}
        for template in TEMPLATES:
            cid = fake.hex_id(rng)
            created = fake.datetime_between(
                rng, self.now - SPAN - timedelta(days=90), self.now - SPAN
            )
            checklists.append(
                {
                    "id": cid,
                    "title": template.title,
                    "summary": f"Standard {template.title.lower()} procedure.",
                    "owner_id": rng.choice(self.user_ids[:4]),
                    "type": "procedure",
                    "status": "active",
                    "is_public": False,
                    "folder_id": folder_ids[template.folder],
                    "started_processes": 0,
                    "created_at": iso(created, millis=True),
                    "last_updated": iso(created + timedelta(days=rng.randint(1, 60)), millis=True),
                }
            )
            steps[cid] = [
                {
                    "id": fake.hex_id(rng),
                    "checklist_id": cid,
                    "alias": fake.slug(title, sep="-"),
                    "title": title,
                    "position": pos,
                    "task_type": _task_type(title),
                    "deadline": {"value": rng.randint(1, 5), "unit": "days"},
                }
                for pos, title in enumerate(template.steps, start=1)
            ]
            kickoff[cid] = [
                {
                    "id": fake.hex_id(rng),
                    "timeline_id": fake.hex_id(rng),
                    "label": label,
                    "field_type": field_type,
                    "required": pos == 1,
                    "position": pos,
                    "options": list(DROPDOWN_OPTIONS.get(label, ())),
                }
                for pos, (label, field_type) in enumerate(template.kickoff, start=1)
            ]
        return checklists, steps, kickoff

    def _creation_times(self, n: int) -> list[tuple[str, datetime]]:
        """(status, created_at) for every run, oldest first, no two in the same second."""
        rng = self.rng
        seen: set[datetime] = set()
        out: list[tuple[str, datetime]] = []
        for status in _status_mix(rng, n):
            # Open runs are recent; finished ones can be anywhere in the two years.
            if status in ("active", "problem", "delayed"):
                lo, hi = self.now - timedelta(days=120), self.now - timedelta(hours=6)
            else:
                lo, hi = self.now - SPAN, self.now - timedelta(days=3)
            created = fake.datetime_between(rng, lo, hi)
            while created in seen:
                created = fake.datetime_between(rng, lo, hi)
            seen.add(created)
            out.append((status, created))
        out.sort(key=lambda pair: pair[1])
        return out

    def _free_time(self, taken: set[str], status: str) -> datetime:
        """A creation second no other run has (orders by time stay total), open runs recent."""
        days = 100 if status in ("active", "delayed") else 600
        while True:
            created = fake.datetime_between(
                self.rng, self.now - timedelta(days=days), self.now - timedelta(days=5)
            )
            if iso(created)[:19] not in taken:
                taken.add(iso(created)[:19])
                return created

    def _run(
        self,
        index: int,
        status: str,
        created: datetime,
        template: Template,
        checklist: Json,
        steps: dict[str, list[Json]],
        kickoff: dict[str, list[Json]],
    ) -> tuple[Json, list[Json]]:
        rng = self.rng
        millis = rng.random() < 0.5
        run_id = fake.hex_id(rng)
        started_by = rng.choice(self.user_ids)
        owner_id = started_by if rng.random() < 0.8 else rng.choice(self.user_ids)
        name, summary, prerun_values = self._naming(template, created)
        run_steps = steps[checklist["id"]]

        was_complete = status == "complete" or (status == "archived" and rng.random() < 0.5)
        timeline = self._timeline(status, was_complete, created, len(run_steps))
        tasks = [
            self._task(run_id, checklist["id"], step, created, state, millis)
            for step, state in zip(run_steps, timeline, strict=True)
        ]
        done = sum(1 for t in tasks if t["status"] in ("completed", "auto-skipped"))
        progress = {
            "complete": done,
            "total": len(tasks),
            "percent": round(100 * done / len(tasks)),
        }

        completed_at: datetime | None = None
        if was_complete:
            last_done = max(s.touched for s in timeline)
            completed_at = min(self.now, last_done + timedelta(minutes=rng.randint(1, 90)))
        activity = max([created, *(s.touched for s in timeline)])
        if completed_at is not None:
            activity = max(activity, completed_at)
        archived_at: datetime | None = None
        if status == "archived":
            archived_at = fake.datetime_between(
                rng, activity, min(self.now, activity + timedelta(days=90))
            )
            activity = archived_at
        last_updated = min(self.now, activity)

        deadlines = [s.deadline for s in timeline]
        due = max(deadlines)
        open_run = status in ("active", "problem", "delayed")
        late = sum(
            1 for s in timeline if s.state in ("active", "not-started") and s.deadline < self.now
        )
        fields = kickoff[checklist["id"]]
        run: Json = {
            "id": run_id,
            "increment_id": 4001 + index,
            "checklist_id": checklist["id"],
            "checklist_title": checklist["title"],
            "name": name,
            "summary": summary,
            "status": status,
            "progress": progress,
            "whole_progress": dict(progress),
            "started_by": started_by,
            "owner_id": owner_id,
            "prerun": {
                f["timeline_id"]: value for f, value in zip(fields, prerun_values, strict=True)
            },
            "prerun_status": "complete",
            "starred": rng.random() < 0.1,
            "created_at": iso(created, millis),
            "started_at": iso(created, millis),
            "last_updated": iso(last_updated, millis),
            "archived_at": iso(archived_at, millis) if archived_at else None,
            "completed_at": iso(completed_at, millis) if completed_at else None,
            "due_date": iso(due, True),
            "due_date_passed": open_run and due < self.now,
            "due_soon": open_run and self.now <= due <= self.now + timedelta(days=7),
            "late_tasks": late if open_run else 0,
            "collaborators": [],
            "type": "procedure",
            "is_public": rng.random() < 0.05,
            "users": [],
            "groups": [],
            "parent_id": None,
            "can_add_oot": True,
        }
        return run, tasks

    def _naming(self, template: Template, created: datetime) -> tuple[str, str, list[str]]:
        """Run name, summary and kickoff values; the summary names things the name does not."""
        rng = self.rng
        org = fake.company(rng)
        who = fake.person(rng).full_name
        place = fake.city(rng)
        quarter = f"Q{(created.month - 1) // 3 + 1} {created.year}"
        title = template.title
        if title == "Customer Onboarding":
            plan = rng.choice(DROPDOWN_OPTIONS["Plan"])
            out = (f"Onboarding - {org}", f"{plan} plan; account manager {who}.", [org, plan])
        elif title == "Employee Onboarding":
            start = (created + timedelta(days=14)).date().isoformat()
            out = (f"Employee Onboarding - {who}", f"Joins the {place} office.", [start, place])
        elif title == "Vendor Due Diligence":
            tier = rng.choice(DROPDOWN_OPTIONS["Risk tier"])
            out = (f"Due Diligence - {org}", f"{tier} risk supplier based in {place}.", [org, tier])
        elif title == "Quarterly Close":
            out = (f"{quarter} Close", f"Books close led by {who}.", [quarter])
        elif title == "Incident Review":
            sev = rng.choice(DROPDOWN_OPTIONS["Severity"])
            system = rng.choice(SYSTEMS)
            number = f"INC-{rng.randint(1000, 9999)}"
            out = (f"Incident {number} Review", f"{sev} outage of {system}.", [sev, system])
        elif title == "Contract Renewal":
            term = rng.choice(("12", "24", "36"))
            out = (f"Renewal - {org}", f"{term}-month renewal, contact {who}.", [org, term])
        elif title == "Office Move":
            move = (created + timedelta(days=45)).date().isoformat()
            out = (f"Office Move - {place}", f"New site for the {org} team.", [place, move])
        else:
            amount = f"${rng.randint(5, 250) * 1000:,}"
            out = (f"Loan Application - {who}", f"{amount} for {org}.", [who, amount])
        name, summary, values = out
        # The docs' sample has an empty summary; keep some.
        return name, ("" if rng.random() < 0.1 else summary), values

    def _timeline(
        self, status: str, was_complete: bool, created: datetime, n: int
    ) -> list[_TaskState]:
        rng = self.rng
        now = self.now
        done_count = n if was_complete else rng.randrange(n)
        horizon = now if not was_complete else min(now, created + timedelta(days=60))
        finish = sorted(fake.datetime_between(rng, created, horizon) for _ in range(done_count))
        states: list[_TaskState] = []
        due = created
        for pos in range(n):
            due = due + timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 8))
            if pos < done_count:
                skipped = was_complete and pos > 0 and rng.random() < 0.05
                stamp = finish[pos]
                if skipped:
                    states.append(_TaskState("auto-skipped", due, None, stamp))
                else:
                    states.append(_TaskState("completed", due, stamp, stamp))
            elif pos == done_count:
                states.append(_TaskState("active", due, None, finish[-1] if finish else created))
            else:
                states.append(_TaskState("not-started", due, None, created))
        self._place_deadlines(status, states, created)
        return states

    def _place_deadlines(self, status: str, states: list[_TaskState], created: datetime) -> None:
        """Open runs: 'active' means nothing is late; 'delayed'/'problem' have late tasks."""
        if status not in ("active", "problem", "delayed"):
            return
        rng = self.rng
        now = self.now
        pending = [s for s in states if s.state in ("active", "not-started")]
        cursor = now
        if status in ("delayed", "problem"):
            overdue = pending[0]
            earliest = created + timedelta(hours=1)
            overdue.deadline = max(earliest, now - timedelta(days=rng.randint(1, 14)))
            overdue.deadline = min(overdue.deadline, now - timedelta(minutes=30))
            pending = pending[1:]
        for s in pending:
            step = timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8))
            cursor = cursor + step + timedelta(minutes=rng.randint(0, 59))
            s.deadline = cursor

    def _task(
        self,
        run_id: str,
        checklist_id: str,
        step: Json,
        created: datetime,
        state: _TaskState,
        millis: bool,
    ) -> Json:
        rng = self.rng
        self.task_counter += 1
        roll = rng.random()
        if roll < 0.05:
            owners: list[int] = []
        elif roll < 0.8:
            owners = [rng.choice(self.user_ids)]
        else:
            owners = sorted(rng.sample(self.user_ids, 2))
        return {
            "id": fake.hex_id(rng),
            "increment_id": self.task_counter,
            "title": step["title"],
            "run_id": run_id,
            "checklist_id": checklist_id,
            "step_id": step["id"],
            "alias": step["alias"],
            "status": state.state,
            "position": step["position"],
            "owners": {"users": owners, "guests": [], "groups": []},
            "deadline": iso(state.deadline, millis),
            "created_at": iso(created, millis),
            "last_updated": iso(min(self.now, state.touched), millis),
            "completed_at": iso(state.completed, millis) if state.completed else None,
            "task_type": step["task_type"],
            "is_oneoff_task": False,
        }


def _make_hostile(run: Json, tasks: list[Json], n: int) -> None:
    """Vendor text that breaks naive rendering: the name, and in turn the summary, a
    kickoff value and a task title (tools/sim/hostile.py)."""
    run["name"] = hostile.NAMES[n]
    if n % 2 == 0:
        run["summary"] = hostile.DESCRIPTION
    if run["prerun"]:
        first = next(iter(run["prerun"]))
        run["prerun"][first] = hostile.FIELD_VALUES[n % len(hostile.FIELD_VALUES)]
    if n % 3 == 0:
        tasks[0]["title"] = hostile.TASK


@dataclass
class _TaskState:
    state: str
    deadline: datetime
    completed: datetime | None
    touched: datetime


def _status_mix(rng: random.Random, n: int) -> list[str]:
    """Exactly the target shares (rounded), in random order: small data sets stay typical."""
    total = sum(STATUS_WEIGHTS.values())
    mix = [s for s, w in STATUS_WEIGHTS.items() for _ in range(n * w // total)]
    mix += ["active"] * (n - len(mix))
    rng.shuffle(mix)
    return mix


def _tag_count(rng: random.Random) -> int:
    return rng.choices((0, 1, 2, 3), (40, 30, 20, 10))[0]


def _task_type(title: str) -> str:
    lowered = title.lower()
    return "approval" if any(word in lowered for word in APPROVAL_WORDS) else "task"
