"""WatchVMs takes every filter of ListVMs by name (its handler builds ListParams from them)."""

from __future__ import annotations

import inspect

from service.http.controllers.filter_params import FILTER_FIELDS
from service.http.controllers.list_params import list_params
from service.http.controllers.watch import WatchController


def test_watch_vms_takes_the_filters_of_list_vms_with_their_declarations() -> None:
    """The same names, in ListParams' order, with the same annotation (alias) and default."""
    watch = inspect.signature(WatchController.watch_vms.fn).parameters
    listing = inspect.signature(list_params).parameters
    assert [name for name in watch if name in FILTER_FIELDS] == list(FILTER_FIELDS)
    for name in FILTER_FIELDS:
        assert watch[name].default is None, name
        assert watch[name].annotation == listing[name].annotation, name
