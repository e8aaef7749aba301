"""ListVMs' parameters are declared once: the `list_params` dependency takes exactly ListParams'
fields (plus the request), each with ListParams' default, so no parameter is lost between them."""

from __future__ import annotations

import inspect

from service.domain.listing import ListParams
from service.http.controllers.list_params import list_params


def test_list_params_takes_exactly_the_fields_of_list_params() -> None:
    """Every ListParams field is a parameter of list_params, in order, with the same default."""
    signature = inspect.signature(list_params)
    names = [name for name in signature.parameters if name != "request"]
    assert names == list(ListParams.__struct_fields__)
    defaults = ListParams()
    for name in names:
        assert signature.parameters[name].default == getattr(defaults, name), name
