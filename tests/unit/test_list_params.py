"""ListVMs' parameters are declared once: the `filters` dependency, then `list_params`, take
exactly ListParams' fields, each with ListParams' default, so no parameter is lost between them."""

from __future__ import annotations

import inspect

from service.domain.listing import ListParams
from service.http.controllers.filter_params import filter_params
from service.http.controllers.list_params import list_params


def test_filters_and_list_params_take_exactly_the_fields_of_list_params() -> None:
    """Every ListParams field is a parameter of one of them, in order, with the same default."""
    parameters = {
        **inspect.signature(filter_params).parameters,
        **inspect.signature(list_params).parameters,
    }
    names = [name for name in parameters if name not in ("request", "filters")]
    assert names == list(ListParams.__struct_fields__)
    defaults = ListParams()
    for name in names:
        assert parameters[name].default == getattr(defaults, name), name
