from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.restore_vm_if_match_type_0 import RestoreVmIfMatchType0
from ...models.vm import VM
from ...types import UNSET, Response, Unset


def _get_kwargs(
    vm_id: str,
    *,
    if_match: RestoreVmIfMatchType0 | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/vms/{vm_id}/restore".format(
            vm_id=quote(str(vm_id), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | VM | None:
    if response.status_code == 200:
        response_200 = VM.from_dict(response.json())

        return response_200

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
) -> Response[Problem | VM]:
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
    if_match: RestoreVmIfMatchType0 | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Problem | VM]:
    """Restore a deleted VM

     The deleted VM is live again at a new revision (200). 409 `not-deleted` when it is live; 409 `name-
    conflict` when a live VM took its name meanwhile (`holder_id` names it); 404 when it never existed
    or was purged.

    Args:
        vm_id (str): the VM's id (24 hex characters)
        if_match (RestoreVmIfMatchType0 | str | Unset): the ETag you read ("3"), a list of them,
            or * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | VM]
    """

    kwargs = _get_kwargs(
        vm_id=vm_id,
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
    if_match: RestoreVmIfMatchType0 | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Problem | VM | None:
    """Restore a deleted VM

     The deleted VM is live again at a new revision (200). 409 `not-deleted` when it is live; 409 `name-
    conflict` when a live VM took its name meanwhile (`holder_id` names it); 404 when it never existed
    or was purged.

    Args:
        vm_id (str): the VM's id (24 hex characters)
        if_match (RestoreVmIfMatchType0 | str | Unset): the ETag you read ("3"), a list of them,
            or * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | VM
    """

    return sync_detailed(
        vm_id=vm_id,
        client=client,
        if_match=if_match,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    if_match: RestoreVmIfMatchType0 | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Problem | VM]:
    """Restore a deleted VM

     The deleted VM is live again at a new revision (200). 409 `not-deleted` when it is live; 409 `name-
    conflict` when a live VM took its name meanwhile (`holder_id` names it); 404 when it never existed
    or was purged.

    Args:
        vm_id (str): the VM's id (24 hex characters)
        if_match (RestoreVmIfMatchType0 | str | Unset): the ETag you read ("3"), a list of them,
            or * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | VM]
    """

    kwargs = _get_kwargs(
        vm_id=vm_id,
        if_match=if_match,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    if_match: RestoreVmIfMatchType0 | str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Problem | VM | None:
    """Restore a deleted VM

     The deleted VM is live again at a new revision (200). 409 `not-deleted` when it is live; 409 `name-
    conflict` when a live VM took its name meanwhile (`holder_id` names it); 404 when it never existed
    or was purged.

    Args:
        vm_id (str): the VM's id (24 hex characters)
        if_match (RestoreVmIfMatchType0 | str | Unset): the ETag you read ("3"), a list of them,
            or * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | VM
    """

    return (
        await asyncio_detailed(
            vm_id=vm_id,
            client=client,
            if_match=if_match,
            idempotency_key=idempotency_key,
        )
    ).parsed
