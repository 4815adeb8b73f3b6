"""Bearer-token protection for the HTTP transports (one shared token from the environment)."""

from __future__ import annotations

import hmac

from mcp.server.auth.provider import AccessToken, TokenVerifier


class StaticTokenVerifier(TokenVerifier):
    def __init__(self, token: str) -> None:
        self._token = token

    async def verify_token(self, token: str) -> AccessToken | None:
        # Constant-time comparison: the token is the only thing guarding the server.
        if hmac.compare_digest(token.encode(), self._token.encode()):
            return AccessToken(token=token, client_id="process-mcp-http", scopes=[])
        return None
