"""The fixed tables Tallyfy sandbox data is drawn from: templates (checklists) with their
steps and kickoff fields, tags, folders and the status mix."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tools.sim import fake

DEFAULT_NOW = datetime(2026, 11, 15, 12, 0, 0, tzinfo=UTC)
SPAN = timedelta(days=730)

# Roughly what a live account looks like; archived runs are hidden by the API's default.
STATUS_WEIGHTS = {"active": 45, "complete": 30, "problem": 5, "delayed": 8, "archived": 12}

TAGS = (
    ("urgent", "#e74c3c"),
    ("enterprise", "#2980b9"),
    ("q4", "#8e44ad"),
    ("legal", "#7f8c8d"),
    ("vip", "#f1c40f"),
    ("renewal", "#27ae60"),
)

FOLDERS = ("Sales", "People", "Procurement", "Finance", "Engineering", "Operations")


@dataclass(frozen=True)
class Template:
    title: str
    folder: str
    steps: tuple[str, ...]
    kickoff: tuple[tuple[str, str], ...]  # (label, field_type)


TEMPLATES = (
    Template(
        "Customer Onboarding",
        "Sales",
        ("Send welcome pack", "Schedule kickoff call", "Collect account details",
         "Configure workspace", "Train admin users", "Go-live review"),
        (("Company name", "text"), ("Plan", "dropdown")),
    ),
    Template(
        "Employee Onboarding",
        "People",
        ("Prepare contract", "Order laptop", "Create accounts", "Assign a buddy",
         "First-week check-in"),
        (("Start date", "date"), ("Office", "dropdown")),
    ),
    Template(
        "Vendor Due Diligence",
        "Procurement",
        ("Request documents", "Sanctions screening", "Financial review",
         "Security questionnaire", "Legal sign-off", "Approve vendor"),
        (("Vendor name", "text"), ("Risk tier", "dropdown")),
    ),
    Template(
        "Quarterly Close",
        "Finance",
        ("Reconcile accounts", "Accrue expenses", "Review revenue", "Prepare statements"),
        (("Quarter", "text"),),
    ),
    Template(
        "Incident Review",
        "Engineering",
        ("Collect timeline", "Identify root cause", "Draft postmortem", "Review with team",
         "Track action items"),
        (("Severity", "dropdown"), ("Affected system", "text")),
    ),
    Template(
        "Contract Renewal",
        "Sales",
        ("Check usage", "Prepare quote", "Negotiate terms", "Legal review", "Countersign",
         "Update CRM", "Send invoice"),
        (("Customer", "text"), ("Term (months)", "text")),
    ),
    Template(
        "Office Move",
        "Operations",
        ("Confirm lease", "Book movers", "Set up network", "Move furniture",
         "Announce new address"),
        (("City", "text"), ("Move date", "date")),
    ),
    Template(
        "Loan Application",
        "Finance",
        ("Receive application", "Verify identity", "Credit check", "Underwriting",
         "Approval decision", "Disburse funds", "Notify applicant", "Archive file"),
        (("Applicant", "text"), ("Amount", "text")),
    ),
)  # fmt: skip

APPROVAL_WORDS = ("approv", "sign-off", "decision", "countersign")
SYSTEMS = ("billing API", "checkout", "search", "SSO", "mobile app", "data warehouse")
DROPDOWN_OPTIONS = {
    "Plan": ("Starter", "Growth", "Enterprise"),
    "Office": fake.CITIES[:6],
    "Risk tier": ("Low", "Medium", "High"),
    "Severity": ("Sev1", "Sev2", "Sev3"),
}
