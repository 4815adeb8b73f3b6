"""What the Chakra sandbox team is made of: its three procedures (attributes, states and
how often each state occurs) and the phrases generated values are built from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone


@dataclass(frozen=True)
class AttrSpec:
    short_id: str
    name: str
    type: str
    options: tuple[str, ...] = ()
    primary_key: bool = False


@dataclass(frozen=True)
class StateSpec:
    short_id: str
    name: str
    status: str  # OPEN / COMPLETED / CANCELLED
    weight: int


@dataclass(frozen=True)
class ProcedureSpec:
    short_id: str
    name: str
    description: str
    attributes: tuple[AttrSpec, ...]
    states: tuple[StateSpec, ...]


SOURCES = ("website", "referral", "whatsapp", "trade_show", "cold_call")
PRIORITIES = ("low", "medium", "high", "urgent")
CATEGORIES = ("billing", "technical", "account", "delivery")
CHANNELS = ("email", "whatsapp", "phone", "web")
PURPOSES = ("installation", "maintenance", "inspection", "repair")

PROCEDURES = (
    ProcedureSpec(
        "lead",
        "Lead",
        "Sales leads from first contact to won or lost.",
        (
            AttrSpec("lead_id", "Lead ID", "text", primary_key=True),
            AttrSpec("name", "Contact name", "text"),
            AttrSpec("company", "Company", "text"),
            AttrSpec("email", "Email", "email"),
            AttrSpec("phone_number", "Phone number", "phone"),
            AttrSpec("source", "Source", "select", SOURCES),
            AttrSpec("city", "City", "text"),
            AttrSpec("budget", "Budget", "number"),
            AttrSpec("score", "Lead score", "number"),
            AttrSpec("expected_close", "Expected close", "datetime"),
            AttrSpec("notes", "Notes", "textarea"),
        ),
        (
            StateSpec("NEW", "New", "OPEN", 10),
            StateSpec("CONTACTED", "Contacted", "OPEN", 12),
            StateSpec("QUALIFIED", "Qualified", "OPEN", 9),
            StateSpec("PROPOSAL_SENT", "Proposal sent", "OPEN", 7),
            StateSpec("WON", "Won", "COMPLETED", 27),
            StateSpec("LOST", "Lost", "CANCELLED", 35),
        ),
    ),
    ProcedureSpec(
        "ticket",
        "Ticket",
        "Customer support tickets.",
        (
            AttrSpec("ticket_id", "Ticket ID", "text", primary_key=True),
            AttrSpec("subject", "Subject", "text"),
            AttrSpec("customer_email", "Customer email", "email"),
            AttrSpec("priority", "Priority", "select", PRIORITIES),
            AttrSpec("category", "Category", "select", CATEGORIES),
            AttrSpec("channel", "Channel", "select", CHANNELS),
            AttrSpec("reopened", "Reopened", "boolean"),
            AttrSpec("sla_hours", "SLA (hours)", "number"),
        ),
        (
            StateSpec("NEW", "New", "OPEN", 8),
            StateSpec("IN_PROGRESS", "In progress", "OPEN", 12),
            StateSpec("WAITING_ON_CUSTOMER", "Waiting on customer", "OPEN", 8),
            StateSpec("RESOLVED", "Resolved", "COMPLETED", 60),
            StateSpec("DUPLICATE", "Duplicate", "CANCELLED", 12),
        ),
    ),
    ProcedureSpec(
        "fieldvisit",
        "Field Visit",
        "Technician visits to customer sites.",
        (
            AttrSpec("visit_id", "Visit ID", "text", primary_key=True),
            AttrSpec("site_name", "Site name", "text"),
            AttrSpec("city", "City", "text"),
            AttrSpec("purpose", "Purpose", "select", PURPOSES),
            AttrSpec("visit_date", "Visit date", "datetimeISO8601"),
            AttrSpec("duration_minutes", "Duration (minutes)", "number"),
            AttrSpec("outcome", "Outcome", "text"),
        ),
        (
            StateSpec("SCHEDULED", "Scheduled", "OPEN", 14),
            StateSpec("EN_ROUTE", "En route", "OPEN", 4),
            StateSpec("ON_SITE", "On site", "OPEN", 4),
            StateSpec("DONE", "Done", "COMPLETED", 63),
            # A state whose short id is also a status value: filters must keep them apart.
            StateSpec("CANCELLED", "Cancelled", "CANCELLED", 15),
        ),
    ),
)

SUBJECTS = (
    "Cannot log in to the portal",
    "Invoice {month} shows the wrong amount",
    "Order {number} not delivered",
    "Refund for order {number}",
    "App crashes when uploading photos",
    "Change the billing address",
    "WhatsApp notifications stopped",
    "Password reset email never arrives",
    "Add a second admin to our account",
    "Export to Excel is empty",
)
SITES = ("warehouse", "head office", "factory", "showroom", "clinic", "depot")
OUTCOMES = (
    "Installed and tested",
    "Replaced the faulty unit",
    "Customer trained on the new setup",
    "Inspection passed",
    "Follow-up visit needed",
)
IST = timezone(timedelta(hours=5, minutes=30))
# Added after the first data set: their ids and values come from their own random stream,
# so every other generated value stays what it was.
LATER_ATTRIBUTES = frozenset({("lead", "notes")})
NOTES = (
    "Referred by {other}.",
    "Currently buys from {other}; contract ends in {month}.",
    "Subsidiary of {other}.",
    "Met at the {city} trade fair, together with {other}.",
)
NOTES_ONLY = (
    "Works at {other}; company not confirmed yet.",
    "Buying for {other} (procurement).",
)
