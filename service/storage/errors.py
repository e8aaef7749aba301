"""Driver errors to domain errors: an unreachable or slow MongoDB, a malformed id."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

from bson import ObjectId
from bson.errors import InvalidId
from pymongo.errors import ConnectionFailure, PyMongoError

from service.domain.errors import DatabaseUnavailable, NotFound

P = ParamSpec("P")
R = TypeVar("R")


@contextlib.contextmanager
def driver_errors() -> Iterator[None]:
    """Within it, a driver error meaning "MongoDB is unreachable or too slow" becomes
    DatabaseUnavailable (for code a decorator cannot wrap, such as an async generator)."""
    try:
        yield
    except ConnectionFailure as exc:
        raise DatabaseUnavailable() from exc
    except PyMongoError as exc:
        if exc.timeout:
            raise DatabaseUnavailable() from exc
        raise


def translate_errors(
    fn: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Turn driver errors meaning "MongoDB is unreachable or too slow" into DatabaseUnavailable."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with driver_errors():
            return await fn(*args, **kwargs)

    return wrapper


def parse_id(vm_id: str) -> ObjectId:
    """Parse a VM id; a malformed one is simply an id no VM has."""
    try:
        return ObjectId(vm_id)
    except (InvalidId, TypeError):
        raise NotFound(f"no VM with id {vm_id!r}") from None
