"""HEAD answers like GET without the body (RFC 9110 9.3.2): GET routes accept both methods."""

from __future__ import annotations

from typing import Any

from litestar import route
from litestar.enums import HttpMethod, ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Message, Method, Receive, Scope, Send

HEAD_SUFFIX = "Head"


def get_and_head(path: str, *, operation_id: str, **kwargs: Any) -> HTTPRouteHandler:
    """`@get(path, ...)` that answers HEAD too (HeadMiddleware drops the body).

    The HEAD operation gets its own id (`GetVMHead`, unique as OpenAPI requires); the OpenAPI
    document then leaves it out (service.http.openapi), as RFC 9110 makes HEAD part of every GET.
    """

    def operation_ids(_: Any, method: Method, __: Any) -> str:
        return operation_id + HEAD_SUFFIX if method == HttpMethod.HEAD else operation_id

    return route(
        path, http_method=[HttpMethod.GET, HttpMethod.HEAD], operation_id=operation_ids, **kwargs
    )


class HeadMiddleware:
    """Outermost middleware: a HEAD answer keeps GET's status and headers, sends no body."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap `app`."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; blank every body chunk of a HEAD answer."""
        if scope["type"] != ScopeType.HTTP or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_without_body)
