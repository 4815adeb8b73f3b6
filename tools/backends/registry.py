"""Backend kinds, listed explicitly: adding a backend is one folder and one line here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tools.backends.base import Backend, InstanceSettings
from tools.backends.chakra.adapter import ChakraBackend
from tools.backends.frends.adapter import FrendsBackend
from tools.backends.kommo.adapter import KommoBackend
from tools.backends.tallyfy.adapter import TallyfyBackend
from tools.backends.yuuvis.adapter import YuuvisBackend
from tools.limits import RateLimit

if TYPE_CHECKING:
    import httpx

KINDS: dict[str, type[Backend]] = {
    TallyfyBackend.kind: TallyfyBackend,
    FrendsBackend.kind: FrendsBackend,
    ChakraBackend.kind: ChakraBackend,
    YuuvisBackend.kind: YuuvisBackend,
    KommoBackend.kind: KommoBackend,
    # (next backends here, one line each)
}


def create_backend(
    settings: InstanceSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    **client_options: Any,
) -> Backend:
    """Build one instance with its own HTTP client, rate limiter and redaction.
    `client_options` go to ClientConfig (tests pass a fake clock and sleep there, the
    server its `quotas`, which give every instance of one account one window and keep it
    across rebuilds, and its `shared_cache`)."""
    # Imported here: the HTTP stack is not needed until a backend is first used.
    from tools.http import (
        ClientConfig,
        Timeouts,
        create_client,
        default_error_message,
        header_retry_after,
    )

    cls = KINDS[settings.kind]
    rate = cls.default_rate_limit
    if settings.rate_limit_per_minute:
        # Replaces every published window (Tallyfy's hourly one too): it is how tests and
        # benchmarks lift the limit, and how a user sets a stricter one.
        rate = RateLimit(settings.rate_limit_per_minute, 60.0)
    secrets = tuple(
        value.get_secret_value()
        for name in cls.secret_fields
        if (value := getattr(settings, name, None)) is not None
    )
    config = ClientConfig(
        backend=settings.name,
        base_url=settings.base_url,
        headers=cls.client_headers(settings),
        secrets=secrets,
        timeouts=Timeouts(read=settings.timeout_seconds),
        rate_limit=rate,
        error_message=cls.error_message or default_error_message,
        retry_after=cls.retry_after or header_retry_after,
        transport=transport,
        vendor=cls.vendor(),
        account=cls.account_key(settings),
        **client_options,
    )
    return cls(settings, create_client(config))
