"""The configured backend instances of one running server."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from tools.arguments import shown
from tools.errors import ConfigError, UnknownBackendError

if TYPE_CHECKING:
    import httpx

    from tools.backends.base import Backend, InstanceSettings
    from tools.limiter import Quotas
    from tools.shared_cache import SharedCache

ALL = "all"


class Instances:
    """Name -> Backend, plus the instances that are configured but unusable (and why)."""

    def __init__(
        self,
        backends: Iterable[Backend],
        problems: Mapping[str, ConfigError] | None = None,
    ) -> None:
        self.backends = {b.name: b for b in backends}
        self.problems = dict(problems or {})

    @classmethod
    def from_settings(
        cls,
        settings: Iterable[InstanceSettings],
        problems: Mapping[str, ConfigError] | None = None,
        *,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
        quotas: Quotas | None = None,
        shared_cache: SharedCache | None = None,
    ) -> Instances:
        """`quotas`: the server's quota windows, which outlive this set of instances (by
        default the set's own: instances of one vendor account share one window anyway);
        `shared_cache`: discovery responses shared with other replicas (Redis)."""
        # Imported here, like the limiter: the adapters load when instances are first
        # built, not with every module that names the Instances type (server start-up).
        from tools.backends.registry import create_backend
        from tools.limiter import Quotas

        transports = transports or {}
        quotas = quotas or Quotas()
        options: dict[str, object] = {"quotas": quotas}
        if shared_cache is not None:
            options["shared_cache"] = shared_cache
        return cls(
            (create_backend(s, transport=transports.get(s.name), **options) for s in settings),
            problems,
        )

    @property
    def names(self) -> list[str]:
        return sorted(self.backends)

    def select(self, name: str) -> list[Backend]:
        """One instance by name, or every usable instance for 'all'."""
        if name == ALL:
            if not self.backends:
                raise UnknownBackendError(
                    "no backend instance is usable",
                    hint=self._setup_hint(),
                )
            return [self.backends[n] for n in self.names]
        return [self.get(name)]

    def get(self, name: str) -> Backend:
        if name in self.backends:
            return self.backends[name]
        if name in self.problems:
            problem = self.problems[name]
            raise UnknownBackendError(
                f"backend {shown(name)} is configured but unusable: {problem.message}",
                hint=problem.hint or "fix its configuration; process-mcp check shows details",
            )
        known = ", ".join(self.names) or "(none)"
        raise UnknownBackendError(
            f"unknown backend {shown(name)}",
            hint=f"use one of: {known}, or 'all'; list_backends describes each",
        )

    def _setup_hint(self) -> str:
        if self.problems:
            return "; ".join(f"{n}: {p.for_model()}" for n, p in self.problems.items())
        return "configure an instance (README: Configuration) or start with --sandbox"

    async def aclose(self) -> None:
        for backend in self.backends.values():
            await backend.aclose()
