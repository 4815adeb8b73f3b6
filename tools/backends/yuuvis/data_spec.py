"""The fixed tables yuuvis sandbox data is drawn from: process definitions (with their
versions and task steps), the status mix and delete reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_NOW = datetime(2026, 11, 15, 12, 0, 0, tzinfo=UTC)
SPAN = timedelta(days=730)
TENANT = "acme"

# Shares of top-level instances; sub-processes follow their parent.
STATUS_WEIGHTS = {"running": 40, "suspended": 7, "completed": 38, "deleted": 15}
DELETE_REASONS = (
    "Cancelled by initiator",
    "Duplicate request",
    "Superseded by a new version of the document",
    "Withdrawn by the requester",
)
SUB_KEY = "approval_subprocess"


@dataclass(frozen=True)
class Definition:
    key: str
    name: str
    category: str
    description: str
    versions: int
    steps: tuple[str, ...]


DEFINITIONS = (
    Definition("invoice_approval", "Invoice approval", "finance",
                "Incoming invoices are checked, approved and booked.", 3,
                ("Check invoice", "Approve invoice", "Book invoice")),
    Definition("purchase_order", "Purchase order", "procurement",
                "Purchase orders above the budget limit need an approval.", 2,
                ("Review order", "Approve order", "Send order to supplier")),
    Definition("contract_review", "Contract review", "legal",
                "Legal review and sign-off of a contract document.", 2,
                ("Legal review", "Negotiate changes", "Sign-off")),
    Definition("leave_request", "Leave request", "hr",
                "An employee asks for leave; the manager decides.", 1,
                ("Manager decision", "Update HR record")),
    Definition("document_release", "Document release", "dms",
                "A document version is reviewed and released.", 2,
                ("Review document", "Release document")),
    Definition("employee_onboarding", "Employee onboarding", "hr",
                "Accounts, equipment and introductions for a new employee.", 1,
                ("Create accounts", "Order equipment", "Welcome meeting")),
    Definition("follow-up", "Follow-up", "inbox",
                "Reminds the initiator of a document on a given date.", 1,
                ("Follow up",)),
    Definition("twosteptest_proc", "Two tasks test process", "test",
                "Process shall be started with Web-API Gateway variable subject to be shown "
                "in the same column of the inbox and with . Both tasks to initiator.", 4,
                ("First task", "Second task")),
    Definition(SUB_KEY, "Approval step", "finance",
                "Called activity: one approver decides.", 1,
                ("Decide",)),
)  # fmt: skip
CALLS_SUB = ("invoice_approval", "purchase_order")
DOC_WORDS = ("Q3_report_final", "policy_v2", "scan_batch", "offer_draft", "minutes_board")
