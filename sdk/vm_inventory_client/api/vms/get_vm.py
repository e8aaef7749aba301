from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.get_vm_if_none_match_type_0 import GetVmIfNoneMatchType0
from ...models.problem import Problem
from ...models.vm import VM
from ...types import UNSET, Response, Unset


def _get_kwargs(
    vm_id: str,
    *,
    show_deleted: bool | Unset = False,
    if_none_match: GetVmIfNoneMatchType0 | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match

    params: dict[str, Any] = {}

    params["show_deleted"] = show_deleted

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/vms/{vm_id}".format(
            vm_id=quote(str(vm_id), safe=""),
        ),
        "params": params,
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Problem | VM | None:
    if response.status_code == 200:
        response_200 = VM.from_dict(response.json())

        return response_200

    if response.status_code == 304:
        response_304 = cast(Any, None)
        return response_304

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

    if response.status_code == 414:
        response_414 = Problem.from_dict(response.json())

        return response_414

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
) -> Response[Any | Problem | VM]:
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
    show_deleted: bool | Unset = False,
    if_none_match: GetVmIfNoneMatchType0 | str | Unset = UNSET,
) -> Response[Any | Problem | VM]:
    """Get one VM

    Args:
        vm_id (str): the VM's id (24 hex characters)
        show_deleted (bool | Unset): also a deleted VM (with deleted_at and purge_at) Default:
            False.
        if_none_match (GetVmIfNoneMatchType0 | str | Unset): 304 without a body while the ETag
            matches

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | VM]
    """

    kwargs = _get_kwargs(
        vm_id=vm_id,
        show_deleted=show_deleted,
        if_none_match=if_none_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    show_deleted: bool | Unset = False,
    if_none_match: GetVmIfNoneMatchType0 | str | Unset = UNSET,
) -> Any | Problem | VM | None:
    """Get one VM

    Args:
        vm_id (str): the VM's id (24 hex characters)
        show_deleted (bool | Unset): also a deleted VM (with deleted_at and purge_at) Default:
            False.
        if_none_match (GetVmIfNoneMatchType0 | str | Unset): 304 without a body while the ETag
            matches

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | VM
    """

    return sync_detailed(
        vm_id=vm_id,
        client=client,
        show_deleted=show_deleted,
        if_none_match=if_none_match,
    ).parsed


async def asyncio_detailed(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    show_deleted: bool | Unset = False,
    if_none_match: GetVmIfNoneMatchType0 | str | Unset = UNSET,
) -> Response[Any | Problem | VM]:
    """Get one VM

    Args:
        vm_id (str): the VM's id (24 hex characters)
        show_deleted (bool | Unset): also a deleted VM (with deleted_at and purge_at) Default:
            False.
        if_none_match (GetVmIfNoneMatchType0 | str | Unset): 304 without a body while the ETag
            matches

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | VM]
    """

    kwargs = _get_kwargs(
        vm_id=vm_id,
        show_deleted=show_deleted,
        if_none_match=if_none_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    show_deleted: bool | Unset = False,
    if_none_match: GetVmIfNoneMatchType0 | str | Unset = UNSET,
) -> Any | Problem | VM | None:
    """Get one VM

    Args:
        vm_id (str): the VM's id (24 hex characters)
        show_deleted (bool | Unset): also a deleted VM (with deleted_at and purge_at) Default:
            False.
        if_none_match (GetVmIfNoneMatchType0 | str | Unset): 304 without a body while the ETag
            matches

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | VM
    """

    return (
        await asyncio_detailed(
            vm_id=vm_id,
            client=client,
            show_deleted=show_deleted,
            if_none_match=if_none_match,
        )
    ).parsed
