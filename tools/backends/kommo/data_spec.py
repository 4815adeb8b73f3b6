"""The fixed parts of the Kommo sandbox data: the account's pipelines and stages, custom
fields, tags and loss reasons, the shape of the data set (`KommoData`), and the wording
that lead names and positions are drawn from. `data` generates the rest from a seed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

Json = dict[str, Any]

DEFAULT_NOW = datetime(2026, 11, 15, 12, 0, 0, tzinfo=UTC)
SPAN = timedelta(days=730)
WON, LOST = 142, 143
ENTITIES = ("leads", "contacts", "companies", "customers")

# (pipeline name, open stages after "Incoming leads", name of 142, name of 143, weight).
# 142/143 keep the system names in the main pipeline and are renamed elsewhere, as
# accounts are allowed to do: clients must map statuses by id, never by name.
PIPELINES = (
    (
        "Sales",
        ("Qualification", "Proposal sent", "Negotiation", "Decision making"),
        "Closed - won",
        "Closed - lost",
        60,
    ),
    (
        "Partnerships",
        ("First contact", "Evaluation", "Contract"),
        "Partner signed",
        "Not a fit",
        20,
    ),
    ("Renewals", ("Renewal due", "Quote sent", "Negotiation"), "Renewed", "Churned", 20),
)
INCOMING = "Incoming leads"
# Share of leads: open (spread over the open stages), won, lost.
OUTCOME_WEIGHTS = {"open": 55, "won": 28, "lost": 17}

TAGS = {
    "leads": ("hot", "enterprise", "inbound", "upsell", "q4", "referral"),
    "contacts": ("decision maker", "newsletter", "vip"),
    "companies": ("key account", "partner", "prospect"),
    "customers": ("vip", "at risk"),
}
TAG_COLORS = ("#ffdc7f", "#ccc8f9", "#87f2c0", "#f9deff", "#98cbff", "#ffc8c8")

# (name, type, code, options) per entity; select options become enums.
FIELDS: dict[str, tuple[tuple[str, str, str | None, tuple[str, ...]], ...]] = {
    "leads": (
        (
            "Lead source",
            "select",
            None,
            ("Website", "Referral", "Cold call", "Trade show", "Partner"),
        ),
        ("Product", "select", None, ("CRM Starter", "CRM Pro", "Analytics", "Integrations")),
        ("Budget approved", "checkbox", None, ()),
        ("Seats", "numeric", None, ()),
        ("Campaign code", "text", None, ()),
        # Where a lead with no linked company record keeps its company's name, so only
        # `query` (which searches text fields) finds the lead by its company.
        ("Company", "text", None, ()),
    ),
    "contacts": (
        ("Phone", "multitext", "PHONE", ("WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER")),
        ("Email", "multitext", "EMAIL", ("WORK", "PRIV", "OTHER")),
        ("Position", "text", "POSITION", ()),
    ),
    "companies": (
        ("Phone", "multitext", "PHONE", ("WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER")),
        ("Web", "url", "WEB", ()),
        ("Address", "textarea", "ADDRESS", ()),
        (
            "Industry",
            "select",
            None,
            ("Retail", "Manufacturing", "Software", "Logistics", "Healthcare", "Finance"),
        ),
    ),
    "customers": (
        ("Plan", "select", None, ("Basic", "Standard", "Premium")),
        ("Auto-renew", "checkbox", None, ()),
    ),
}

# Customer statuses have no endpoint in our reference; customers carry their id only.
CUSTOMER_STATUS_IDS = (4100001, 4100002, 4100003, 4100004)
LOSS_REASONS = ("Price too high", "Chose a competitor", "No budget", "No response")
POSITIONS = (
    "CEO",
    "CTO",
    "Head of Sales",
    "Office Manager",
    "Procurement Lead",
    "Operations Director",
    "Founder",
    "IT Manager",
)
LEAD_TITLES = (
    "{company} - {product}",
    "Deal with {company}",
    "{company} expansion",
    "{person} inquiry",
    "{company} pilot",
    "{product} for {company}",
)


@dataclass(frozen=True)
class KommoData:
    seed: int
    now: datetime
    account_id: int
    users: list[Json]
    pipelines: list[Json]  # wire form with _embedded.statuses (no _links)
    custom_fields: dict[str, list[Json]]  # entity -> field definitions
    tags: dict[str, list[Json]]  # entity -> tags
    loss_reasons: list[Json]
    leads: list[Json]  # oldest first; ids rise with creation
    contacts: list[Json]
    companies: list[Json]
    customers: list[Json]
    lead_contacts: dict[int, list[int]]  # lead id -> contact ids (the first is main)
    contact_leads: dict[int, list[int]]

    def rows(self, entity: str) -> list[Json]:
        rows: list[Json] = getattr(self, entity)
        return rows

    def stage(self, pipeline_id: int, status_id: int) -> Json | None:
        for pipeline in self.pipelines:
            if pipeline["id"] == pipeline_id:
                for status in pipeline["_embedded"]["statuses"]:
                    if status["id"] == status_id:
                        return dict(status)
        return None


def ts(moment: datetime) -> int:
    return int(moment.timestamp())
