from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.vm_event_page import VMEventPage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    vm_id: str,
    *,
    page_size: int | Unset = 50,
    page_token: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["page_size"] = page_size

    json_page_token: None | str | Unset
    if isinstance(page_token, Unset):
        json_page_token = UNSET
    else:
        json_page_token = page_token
    params["page_token"] = json_page_token

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/vms/{vm_id}/events".format(
            vm_id=quote(str(vm_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | VMEventPage | None:
    if response.status_code == 200:
        response_200 = VMEventPage.from_dict(response.json())

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
) -> Response[Problem | VMEventPage]:
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
    page_size: int | Unset = 50,
    page_token: None | str | Unset = UNSET,
) -> Response[Problem | VMEventPage]:
    """A VM's change history, newest first (also after it was deleted)

    Args:
        vm_id (str): the VM's id (24 hex characters)
        page_size (int | Unset):  Default: 50.
        page_token (None | str | Unset): next_page_token of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | VMEventPage]
    """

    kwargs = _get_kwargs(
        vm_id=vm_id,
        page_size=page_size,
        page_token=page_token,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    page_size: int | Unset = 50,
    page_token: None | str | Unset = UNSET,
) -> Problem | VMEventPage | None:
    """A VM's change history, newest first (also after it was deleted)

    Args:
        vm_id (str): the VM's id (24 hex characters)
        page_size (int | Unset):  Default: 50.
        page_token (None | str | Unset): next_page_token of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | VMEventPage
    """

    return sync_detailed(
        vm_id=vm_id,
        client=client,
        page_size=page_size,
        page_token=page_token,
    ).parsed


async def asyncio_detailed(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    page_size: int | Unset = 50,
    page_token: None | str | Unset = UNSET,
) -> Response[Problem | VMEventPage]:
    """A VM's change history, newest first (also after it was deleted)

    Args:
        vm_id (str): the VM's id (24 hex characters)
        page_size (int | Unset):  Default: 50.
        page_token (None | str | Unset): next_page_token of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | VMEventPage]
    """

    kwargs = _get_kwargs(
        vm_id=vm_id,
        page_size=page_size,
        page_token=page_token,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    vm_id: str,
    *,
    client: AuthenticatedClient,
    page_size: int | Unset = 50,
    page_token: None | str | Unset = UNSET,
) -> Problem | VMEventPage | None:
    """A VM's change history, newest first (also after it was deleted)

    Args:
        vm_id (str): the VM's id (24 hex characters)
        page_size (int | Unset):  Default: 50.
        page_token (None | str | Unset): next_page_token of the previous page

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | VMEventPage
    """

    return (
        await asyncio_detailed(
            vm_id=vm_id,
            client=client,
            page_size=page_size,
            page_token=page_token,
        )
    ).parsed
