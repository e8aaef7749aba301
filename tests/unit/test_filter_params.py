"""The filters are declared once: ListVMs, WatchVMs and ExportVMs take them through the one
`filters` dependency, which takes exactly ListParams' filter fields (plus the request)."""

from __future__ import annotations

import inspect

from litestar.di import Provide
from litestar.handlers import HTTPRouteHandler

from service.domain.listing import ListParams
from service.http.controllers.export import ExportController
from service.http.controllers.filter_params import filter_params
from service.http.controllers.vms import VMController
from service.http.controllers.watch import WatchController

FIELDS = ListParams.__struct_fields__


def test_filter_params_takes_the_fields_of_list_params_before_sort() -> None:
    """The filter fields, in ListParams' order, each optional (None: no filter)."""
    signature = inspect.signature(filter_params).parameters
    names = [name for name in signature if name != "request"]
    assert names == list(FIELDS[: FIELDS.index("sort")])
    assert all(signature[name].default is None for name in names)


def test_every_filtering_route_resolves_filters_with_the_one_provider() -> None:
    handlers: list[HTTPRouteHandler] = [
        VMController.list_vms, WatchController.watch_vms, ExportController.export_vms,
    ]  # fmt: skip
    for handler in handlers:
        provide = (handler.dependencies or {})["filters"]
        assert isinstance(provide, Provide), handler
        assert provide.dependency is filter_params, handler
