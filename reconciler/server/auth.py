"""Bearer-token authentication for ``routes serve``: every request but ``/healthz``."""

from __future__ import annotations

import hmac

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.server.wire import ApiError

OPEN_PATHS = frozenset({"/healthz"})
REALM = 'Bearer realm="routes"'


def token_matches(presented: str, expected: str) -> bool:
    """Constant-time comparison, so response timing tells nothing about the token."""
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def bearer_of(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class BearerAuth:
    """ASGI middleware answering 401 (with ``WWW-Authenticate``) to requests without the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                header = value.decode("latin-1")
                break
        presented = bearer_of(header)
        if presented is not None and token_matches(presented, self.token):
            await self.app(scope, receive, send)
            return
        if presented is None:
            error = ApiError(
                401,
                "unauthorized",
                "this server needs a bearer token: send Authorization: Bearer <token>",
                headers={"WWW-Authenticate": REALM},
            )
        else:
            error = ApiError(
                401,
                "unauthorized",
                "the bearer token was refused: use the token the server was started with",
                headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
            )
        response = JSONResponse(error.body(), error.status, headers=dict(error.headers))
        await response(scope, receive, send)
