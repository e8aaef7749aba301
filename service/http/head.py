"""HEAD answers like GET without the body (RFC 9110 9.3.2): GET routes accept both methods."""

from __future__ import annotations

from typing import Any

from litestar import route
from litestar.enums import HttpMethod
from litestar.handlers import HTTPRouteHandler
from litestar.types import Method

HEAD_SUFFIX = "Head"


def get_and_head(path: str, *, operation_id: str, **kwargs: Any) -> HTTPRouteHandler:
    """`@get(path, ...)` that answers HEAD too (service.http.middleware.pipeline drops the body).

    The HEAD operation gets its own id (`GetVMHead`, unique as OpenAPI requires); the OpenAPI
    document then leaves it out (service.http.openapi), as RFC 9110 makes HEAD part of every GET.
    """

    def operation_ids(_: Any, method: Method, __: Any) -> str:
        return operation_id + HEAD_SUFFIX if method == HttpMethod.HEAD else operation_id

    return route(
        path, http_method=[HttpMethod.GET, HttpMethod.HEAD], operation_id=operation_ids, **kwargs
    )
