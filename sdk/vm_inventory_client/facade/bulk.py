"""The bulk operations of `inv.vms`: UpsertVM, BatchVMs, `sync` (upserts in batches) and
ExportVMs."""

from __future__ import annotations

import builtins
import itertools
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Unpack

import httpx

from ..api.vms import batch_vms, upsert_vm
from ..models import VM, BatchItemResult, BatchRequest, BatchResults, SortOrder, VMReplace
from ..types import UNSET, Response, Unset
from .arguments import Filters, Revision, etag, parsed, query
from .sending import Sender


class VMBulk:
    """The bulk operations of /api/v1/vms."""

    def __init__(self, sender: Sender) -> None:
        """Send through `sender` (shared with the reads and the single writes)."""
        self._sender = sender

    async def upsert(
        self,
        name: str,
        vm: Mapping[str, Any],
        *,
        if_match: Revision | None = None,
        create_only: bool = False,
        idempotency_key: str | None = None,
    ) -> VM:
        """Create or replace the VM named `name`, ignoring case (UpsertVM); `vm` is a ReplaceVM
        body (its name equal to `name` ignoring case). `create_only`: PreconditionFailed if it
        exists; `if_match`: only that revision of an existing VM."""
        response = await self._sender.write(
            upsert_vm.asyncio_detailed, name, body=VMReplace.from_dict(dict(vm)),
            if_match=etag(if_match), if_none_match="*" if create_only else UNSET,
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return parsed(response, VM)

    async def batch(
        self,
        operations: Sequence[Mapping[str, Any]],
        *,
        atomic: bool = False,
        idempotency_key: str | None = None,
    ) -> builtins.list[BatchItemResult]:
        """Up to 1000 writes in one request (BatchVMs): each a dict such as
        `{"op": "create", "vm": {...}}`; one result per operation, in order, each with the
        status and VM or problem its single operation would give. An `atomic` batch applies all
        or nothing: a failure raises Conflict / ValidationFailed (see its `results`)."""
        body = BatchRequest.from_dict(
            {"operations": [dict(o) for o in operations], "atomic": atomic}
        )
        response = await self._sender.write(
            batch_vms.asyncio_detailed, body=body, idempotency_key=idempotency_key
        )
        return parsed(response, BatchResults).results

    async def sync(
        self, vms: Iterable[Mapping[str, Any]], *, chunk_size: int = 500, attempts: int = 3
    ) -> AsyncIterator[BatchItemResult]:
        """Upsert every VM of `vms` (ReplaceVM bodies) by name, `chunk_size` per batch, yielding
        each one's result in input order (`index` counts from the first VM of `vms`).

        A batch is resent only with its Idempotency-Key (replayed, never applied twice); an item
        answered 409 contention or 503 is upserted again (an upsert can be repeated), up to
        `attempts` times in all.
        """
        position = 0
        iterator = iter(vms)
        while chunk := builtins.list(itertools.islice(iterator, chunk_size)):
            pending = {position + i: vm for i, vm in enumerate(chunk)}
            done: dict[int, BatchItemResult] = {}
            for attempt in range(1, attempts + 1):
                order = builtins.list(pending)
                results = await self.batch(
                    [
                        {"op": "upsert", "name": pending[i]["name"], "vm": dict(pending[i])}
                        for i in order
                    ]
                )
                for index, result in zip(order, results, strict=True):
                    result.index = index
                    done[index] = result
                    if attempt < attempts and _retryable(result):
                        continue
                    del pending[index]
                if not pending:
                    break
            for index in sorted(done):
                yield done[index]
            position += len(chunk)

    async def export(
        self, *, sort: str | SortOrder | None = None, **filters: Unpack[Filters]
    ) -> AsyncIterator[VM]:
        """Every VM matching `filters` (as `list`), streamed from one snapshot (ExportVMs).

        Only the request is retried, before the first VM arrives; a stream cut short raises.
        """
        params: dict[str, Any] = {k: _param(v) for k, v in query(filters).items()}
        if sort is not None:
            params["sort"] = SortOrder(sort).value
        http = self._sender.http()
        headers = {"Accept": "application/x-ndjson"}
        stream: list[httpx.Response] = []

        async def send() -> Response[Any]:
            request = http.build_request(
                "GET", "/api/v1/vms/export", params=params, headers=headers
            )
            answer = await http.send(request, stream=True)
            if answer.status_code >= 400:
                await answer.aread()
                await answer.aclose()
            else:
                stream.append(answer)
            return Response(
                status_code=HTTPStatus(answer.status_code),
                content=answer.content if answer.status_code >= 400 else b"",
                headers=answer.headers,
                parsed=None,
            )

        await self._sender.call(send, resend_safe=True)  # a read
        answer = stream[-1]
        try:
            async for line in answer.aiter_lines():
                if line:
                    yield VM.from_dict(json.loads(line))
        finally:
            await answer.aclose()


def _retryable(result: BatchItemResult) -> bool:
    """An item answer that another upsert of the same VM may turn into a success."""
    problem = result.problem
    kind = problem.type_ if problem is not None and not isinstance(problem, Unset) else ""
    return result.status == 503 or (result.status == 409 and str(kind).endswith("/contention"))


def _param(value: Any) -> Any:
    """A filter value as a query parameter (httpx takes lists for repeated ones)."""
    if isinstance(value, builtins.list):
        return [_param(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value.value) if hasattr(value, "value") else value
