"""The yuuvis instance of the sandbox: seeded data behind the BPM-ENGINE simulator.

The sandbox signs in as the tenant admin with a bearer token, so every instance is listed
and owner filters work; the other users' credentials are in `describe` for trying the
ordinary-user rules (own processes only) by hand.
"""

from __future__ import annotations

from pydantic import SecretStr

from tools.backends.yuuvis.adapter import YuuvisSettings
from tools.backends.yuuvis.data import YuuvisData, generate
from tools.backends.yuuvis.simulator import create_app
from tools.sim import SandboxParts, SimulatorCore

NAME = "yuuvis-sandbox"
TOKEN = "sandbox-yuuvis-token"  # the tenant admin's token in the generated data


def build(
    seed: int, *, instances: int = 300, strict: bool = True
) -> tuple[SimulatorCore, YuuvisData]:
    data = generate(seed=seed, instances=instances)
    return create_app(data, strict=strict), data


def settings(
    url: str,
    data: YuuvisData,
    *,
    name: str = NAME,
    rate_limit_per_minute: int | None = None,
    username: str | None = None,
) -> YuuvisSettings:
    """Settings for an instance pointing at a running simulator: the admin by bearer token,
    or with `username` that user by Basic auth (admin or not, as the data says)."""
    if username is None:
        user, auth, secret = data.admin, "bearer", TOKEN
    else:
        user = data.user(username)
        auth, secret = "basic", user["password"]
    return YuuvisSettings(
        name=name,
        kind="yuuvis",
        base_url=url.rstrip("/"),
        tenant=data.tenant,
        auth=auth,
        username=username,
        user_id=user["id"],
        is_admin=bool(user["admin"]),
        token=SecretStr(secret),
        description="Simulated yuuvis Momentum BPM engine (sandbox data)",
        rate_limit_per_minute=rate_limit_per_minute,
    )


def open_sandbox(seed: int, *, strict: bool = True, size: int | None = None) -> SandboxParts:
    """The sandbox's yuuvis instance (the common entry point of every backend's sandbox);
    `size` asks for that many instances (benchmarks; about 7% of them are sub-processes,
    which listings leave out by default), None for the sandbox's default."""
    core, data = build(seed, strict=strict, **({"instances": size} if size else {}))
    ordinary = next(u for u in data.users if not u["admin"])
    return SandboxParts(
        core=core,
        settings=lambda url: settings(url, data),
        describe={
            "token": TOKEN,
            "tenant": data.tenant,
            "tenant_header": "X-ID-TENANT-NAME",
            "admin": data.admin["username"],
            "basic_user": f"{ordinary['username']}:{ordinary['password']} (not an admin)",
        },
    )
