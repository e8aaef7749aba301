from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.delete_vm_if_match_type_0 import DeleteVmIfMatchType0
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    vm_id: str,
    *,
    force: bool | Unset = False,
    purge: bool | Unset = False,
    if_match: DeleteVmIfMatchType0 | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    params: dict[str, Any] = {}

    params["force"] = force

    params["purge"] = purge

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "delete",
        "url": "/api/v1/vms/{vm_id}".format(
            vm_id=quote(str(vm_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Problem | None:
    if response.status_code == 204:
        response_204 = cast(Any, None)
        return response_204

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 412:
        response_412 = Problem.from_dict(response.json())

        return response_412

    if response.status_code == 414:
        response_414 = Problem.from_dict(response.json())

        return response_414

    if response.status_code == 422:
        response_422 = Problem.from_dict(response.json())

        return response_422

    if response.status_code == 428:
        response_428 = Problem.from_dict(response.json())

        return response_428

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 431:
        response_431 = Problem.from_dict(response.json())

        return response_431

    if response.status_code == 500:
        response_500 = Problem.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Any | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    force: bool | Unset = False,
    purge: bool | Unset = False,
    if_match: DeleteVmIfMatchType0 | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Any | Problem]:
    """Delete a VM (restorable until its purge_at), or purge it (admin)

     Without `purge`, the VM is kept as deleted: GetVM and ListVMs no longer show it (unless
    `show_deleted=true`), its name is free, and RestoreVM brings it back until its `purge_at`
    (DELETED_RETENTION_DAYS later), when MongoDB purges it. `purge=true` removes it at once, live or
    deleted, and needs an API key of scope `admin` (403 otherwise, before the VM is looked up).

    Args:
        vm_id (str): the VM's id (24 hex characters)
        force (bool | Unset): delete even while running or suspended Default: False.
        purge (bool | Unset): remove it at once, live or deleted (scope admin); history stays
            Default: False.
        if_match (DeleteVmIfMatchType0 | str | Unset): the ETag you read ("3"), a list of them, or
            * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        vm_id=vm_id,
        force=force,
        purge=purge,
        if_match=if_match,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    force: bool | Unset = False,
    purge: bool | Unset = False,
    if_match: DeleteVmIfMatchType0 | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Any | Problem | None:
    """Delete a VM (restorable until its purge_at), or purge it (admin)

     Without `purge`, the VM is kept as deleted: GetVM and ListVMs no longer show it (unless
    `show_deleted=true`), its name is free, and RestoreVM brings it back until its `purge_at`
    (DELETED_RETENTION_DAYS later), when MongoDB purges it. `purge=true` removes it at once, live or
    deleted, and needs an API key of scope `admin` (403 otherwise, before the VM is looked up).

    Args:
        vm_id (str): the VM's id (24 hex characters)
        force (bool | Unset): delete even while running or suspended Default: False.
        purge (bool | Unset): remove it at once, live or deleted (scope admin); history stays
            Default: False.
        if_match (DeleteVmIfMatchType0 | str | Unset): the ETag you read ("3"), a list of them, or
            * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return sync_detailed(
        vm_id=vm_id,
        client=client,
        force=force,
        purge=purge,
        if_match=if_match,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    force: bool | Unset = False,
    purge: bool | Unset = False,
    if_match: DeleteVmIfMatchType0 | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Any | Problem]:
    """Delete a VM (restorable until its purge_at), or purge it (admin)

     Without `purge`, the VM is kept as deleted: GetVM and ListVMs no longer show it (unless
    `show_deleted=true`), its name is free, and RestoreVM brings it back until its `purge_at`
    (DELETED_RETENTION_DAYS later), when MongoDB purges it. `purge=true` removes it at once, live or
    deleted, and needs an API key of scope `admin` (403 otherwise, before the VM is looked up).

    Args:
        vm_id (str): the VM's id (24 hex characters)
        force (bool | Unset): delete even while running or suspended Default: False.
        purge (bool | Unset): remove it at once, live or deleted (scope admin); history stays
            Default: False.
        if_match (DeleteVmIfMatchType0 | str | Unset): the ETag you read ("3"), a list of them, or
            * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem]
    """

    kwargs = _get_kwargs(
        vm_id=vm_id,
        force=force,
        purge=purge,
        if_match=if_match,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    force: bool | Unset = False,
    purge: bool | Unset = False,
    if_match: DeleteVmIfMatchType0 | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Any | Problem | None:
    """Delete a VM (restorable until its purge_at), or purge it (admin)

     Without `purge`, the VM is kept as deleted: GetVM and ListVMs no longer show it (unless
    `show_deleted=true`), its name is free, and RestoreVM brings it back until its `purge_at`
    (DELETED_RETENTION_DAYS later), when MongoDB purges it. `purge=true` removes it at once, live or
    deleted, and needs an API key of scope `admin` (403 otherwise, before the VM is looked up).

    Args:
        vm_id (str): the VM's id (24 hex characters)
        force (bool | Unset): delete even while running or suspended Default: False.
        purge (bool | Unset): remove it at once, live or deleted (scope admin); history stays
            Default: False.
        if_match (DeleteVmIfMatchType0 | str | Unset): the ETag you read ("3"), a list of them, or
            * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem
    """

    return (
        await asyncio_detailed(
            vm_id=vm_id,
            client=client,
            force=force,
            purge=purge,
            if_match=if_match,
            idempotency_key=idempotency_key,
        )
    ).parsed
