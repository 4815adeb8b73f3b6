"""Configuration errors that teach: every problem of a file at once, each with its fix,
and "did you mean ...?" for a key or name that is close to a valid one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from tools.errors import ConfigError

# Keys every instance table may have that are not fields of its settings model.
EXTRA_INSTANCE_KEYS = ("kind", "token_env")
# Settings fields that are filled in by the loader, never written by hand.
FILLED_IN = ("name", "token")


def nearest(word: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = nearest(word, choices)
    return f" (did you mean {close}?)" if close else ""


def instance_keys(model: type[BaseModel]) -> list[str]:
    """The keys an instance table of this settings model accepts."""
    return sorted({k for k in model.model_fields if k not in FILLED_IN} | set(EXTRA_INSTANCE_KEYS))


class CombinedConfigError(ConfigError):
    """Several configuration problems reported as one error."""

    def __init__(self, message: str, items: list[tuple[str, str | None]], hint: str) -> None:
        super().__init__(message, hint=hint)
        self.problems = items


@dataclass
class Problems:
    """Problems found so far, each a message and how to fix it."""

    items: list[tuple[str, str | None]] = field(default_factory=list)

    def add(self, message: str, hint: str | None = None) -> None:
        self.items.append((message, hint))

    def extend(self, error: ConfigError) -> None:
        if isinstance(error, CombinedConfigError):
            self.items.extend(error.problems)
        else:
            self.items.append((error.message, error.hint))

    def __bool__(self) -> bool:
        return bool(self.items)

    def error(self, subject: str) -> ConfigError:
        """One ConfigError for all of them. A single problem keeps its own wording."""
        if len(self.items) == 1:
            message, hint = self.items[0]
            return ConfigError(message, hint=hint)
        lines = [f"{subject} has {len(self.items)} problems:"]
        lines += [
            f"  {i}. {m}" + (f" (fix: {h})" if h else "") for i, (m, h) in enumerate(self.items, 1)
        ]
        return CombinedConfigError(
            "\n".join(lines), list(self.items), hint="fix them all, then run `process-mcp check`"
        )


def validation_problems(
    exc: ValidationError, model: type[BaseModel], name: str, problems: Problems
) -> None:
    """Every pydantic error of instance `name`, unknown keys with the nearest valid one."""
    valid = instance_keys(model)
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(table)"
        if err["type"] == "extra_forbidden":
            problems.add(
                f"instance {name!r}: unknown key {where}{did_you_mean(where, valid)}",
                f"[instances.{name}] takes: {', '.join(valid)}",
            )
        else:
            problems.add(
                f"instance {name!r}: {where}: {err['msg']}",
                f"fix [instances.{name}] {where} in the config file",
            )
