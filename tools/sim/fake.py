"""Deterministic, realistic-looking data for the simulators; everything is drawn from the
`random.Random` passed in, so one seed always gives the same data set."""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

FIRST_NAMES = (
    "Alice", "Bob", "Carol", "Dana", "Emil", "Fatima", "George", "Hana", "Ivan", "Julia",
    "Kenji", "Laura", "Marco", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Samuel", "Tara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Liam", "Amara", "Noah", "Ingrid",
    "Diego", "Mei", "Olga", "Pedro", "Sofia", "Tomas", "Aisha", "Lars", "Chloe", "Raj",
)  # fmt: skip

LAST_NAMES = (
    "Smith", "Kim", "Garcia", "Nguyen", "Müller", "Okafor", "Rossi", "Dubois", "Novak",
    "Tanaka", "Johnson", "Silva", "Kowalski", "Haddad", "Larsen", "Patel", "O'Brien",
    "Ivanova", "Chen", "Fischer", "Moreau", "Andersson", "Costa", "Yilmaz", "Murphy",
    "Schmidt", "Lopez", "Sato", "Brown", "Wilson", "Mendes", "Becker", "Ali", "Jansen",
)  # fmt: skip

COMPANY_NAMES = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises",
    "Northwind Traders", "Contoso", "Fabrikam", "Tailspin Toys", "Wingtip Toys", "Vandelay",
    "Soylent", "Cyberdyne", "Wonka Industries", "Tyrell", "Massive Dynamic", "Gekko & Co",
    "Dunder Mifflin", "Pied Piper", "Aperture Science", "Oscorp", "Blue Sun", "Monarch",
    "Bluth Company", "Sterling Cooper", "Prestige Worldwide", "Virtucon", "Nakatomi",
)  # fmt: skip

COMPANY_SUFFIXES = ("", " Corp", " Inc", " Ltd", " GmbH", " LLC", " Group", " Holdings")

CITIES = (
    "Berlin", "Lisbon", "Austin", "Toronto", "Singapore", "Nairobi", "Melbourne", "Dublin",
    "Osaka", "Warsaw", "Bogotá", "Oslo", "Chicago", "Lyon", "Cape Town", "Seoul",
)  # fmt: skip


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def person(rng: random.Random) -> Person:
    return Person(rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))


def people(rng: random.Random, n: int) -> list[Person]:
    """`n` people with distinct full names (n must stay below the name space)."""
    seen: set[Person] = set()
    out: list[Person] = []
    while len(out) < n:
        p = person(rng)
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def company(rng: random.Random) -> str:
    """A company name such as "Globex" or "Initech Ltd" (240 combinations)."""
    return rng.choice(COMPANY_NAMES) + rng.choice(COMPANY_SUFFIXES)


def city(rng: random.Random) -> str:
    return rng.choice(CITIES)


def slug(text: str, sep: str = ".") -> str:
    """ASCII-only lowercase slug: "Müller" -> "muller", "O'Brien" -> "obrien"."""
    # NFKD splits "ë" into "e" + a combining mark, which the ASCII encode then drops.
    decomposed = unicodedata.normalize("NFKD", text.translate(_NO_DECOMPOSITION))
    folded = decomposed.encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", folded.replace("'", ""))
    return sep.join(words)


def domain(company_name: str, tld: str = "test") -> str:
    """`.test` is reserved (RFC 2606), so generated addresses can never reach anyone."""
    return f"{slug(company_name, sep='')}.{tld}"


def email(p: Person, company_domain: str) -> str:
    return f"{slug(p.first_name)}.{slug(p.last_name)}@{company_domain}"


def hex_id(rng: random.Random, length: int = 32) -> str:
    return f"{rng.getrandbits(4 * length):0{length}x}"


def datetime_between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A whole-second UTC datetime in [start, end]."""
    span = max(0, int((end - start).total_seconds()))
    moment = start + timedelta(seconds=rng.randint(0, span))
    return moment.astimezone(UTC).replace(microsecond=0)


# Letters that NFKD leaves whole, so the ASCII encode would drop them.
_NO_DECOMPOSITION = str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE",
                                   "ł": "l", "Ł": "L", "đ": "d", "Đ": "D"})  # fmt: skip
