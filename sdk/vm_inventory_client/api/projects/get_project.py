from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.get_project_if_none_match_type_0 import GetProjectIfNoneMatchType0
from ...models.problem import Problem
from ...models.project import Project
from ...types import UNSET, Response, Unset


def _get_kwargs(
    name: str,
    *,
    if_none_match: GetProjectIfNoneMatchType0 | str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/projects/{name}".format(
            name=quote(str(name), safe=""),
        ),
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Any | Problem | Project | None:
    if response.status_code == 200:
        response_200 = Project.from_dict(response.json())

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
) -> Response[Any | Problem | Project]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    name: str,
    *,
    client: AuthenticatedClient,
    if_none_match: GetProjectIfNoneMatchType0 | str | Unset = UNSET,
) -> Response[Any | Problem | Project]:
    """Get one project, with its quota and usage

    Args:
        name (str): the project's name
        if_none_match (GetProjectIfNoneMatchType0 | str | Unset): 304 without a body while the
            ETag matches

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | Project]
    """

    kwargs = _get_kwargs(
        name=name,
        if_none_match=if_none_match,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    name: str,
    *,
    client: AuthenticatedClient,
    if_none_match: GetProjectIfNoneMatchType0 | str | Unset = UNSET,
) -> Any | Problem | Project | None:
    """Get one project, with its quota and usage

    Args:
        name (str): the project's name
        if_none_match (GetProjectIfNoneMatchType0 | str | Unset): 304 without a body while the
            ETag matches

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | Project
    """

    return sync_detailed(
        name=name,
        client=client,
        if_none_match=if_none_match,
    ).parsed


async def asyncio_detailed(
    name: str,
    *,
    client: AuthenticatedClient,
    if_none_match: GetProjectIfNoneMatchType0 | str | Unset = UNSET,
) -> Response[Any | Problem | Project]:
    """Get one project, with its quota and usage

    Args:
        name (str): the project's name
        if_none_match (GetProjectIfNoneMatchType0 | str | Unset): 304 without a body while the
            ETag matches

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Any | Problem | Project]
    """

    kwargs = _get_kwargs(
        name=name,
        if_none_match=if_none_match,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    name: str,
    *,
    client: AuthenticatedClient,
    if_none_match: GetProjectIfNoneMatchType0 | str | Unset = UNSET,
) -> Any | Problem | Project | None:
    """Get one project, with its quota and usage

    Args:
        name (str): the project's name
        if_none_match (GetProjectIfNoneMatchType0 | str | Unset): 304 without a body while the
            ETag matches

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Any | Problem | Project
    """

    return (
        await asyncio_detailed(
            name=name,
            client=client,
            if_none_match=if_none_match,
        )
    ).parsed
