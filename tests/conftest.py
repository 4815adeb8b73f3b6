from __future__ import annotations

import pytest

# Real services (redis-server) for any test that asks for them: tests/services.py.
from tests.services import redis_server, redis_url

__all__ = ["redis_server", "redis_url"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
