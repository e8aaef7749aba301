from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.upsert_vm_if_match_type_0 import UpsertVmIfMatchType0
from ...models.upsert_vm_if_none_match_type_0 import UpsertVmIfNoneMatchType0
from ...models.vm import VM
from ...models.vm_replace import VMReplace
from ...types import UNSET, Response, Unset


def _get_kwargs(
    name: str,
    *,
    body: VMReplace,
    project: None | str | Unset = UNSET,
    if_match: str | Unset | UpsertVmIfMatchType0 = UNSET,
    if_none_match: str | Unset | UpsertVmIfNoneMatchType0 = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(if_match, Unset):
        headers["If-Match"] = if_match

    if not isinstance(if_none_match, Unset):
        headers["If-None-Match"] = if_none_match

    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    params: dict[str, Any] = {}

    json_project: None | str | Unset
    if isinstance(project, Unset):
        json_project = UNSET
    else:
        json_project = project
    params["project"] = json_project

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/api/v1/vms/by-name/{name}".format(
            name=quote(str(name), safe=""),
        ),
        "params": params,
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | VM | None:
    if response.status_code == 200:
        response_200 = VM.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = VM.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 412:
        response_412 = Problem.from_dict(response.json())

        return response_412

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 414:
        response_414 = Problem.from_dict(response.json())

        return response_414

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

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
    name: str,
    *,
    client: AuthenticatedClient,
    body: VMReplace,
    project: None | str | Unset = UNSET,
    if_match: str | Unset | UpsertVmIfMatchType0 = UNSET,
    if_none_match: str | Unset | UpsertVmIfNoneMatchType0 = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Problem | VM]:
    """Create (201) or replace (200) the VM with this name, ignoring case

    Args:
        name (str): the VM's name (matched ignoring case)
        project (None | str | Unset): the VM's project (default: the body's, else the key's first
            project, else `default`); names are unique per project
        if_match (str | Unset | UpsertVmIfMatchType0): the ETag you read ("3"), a list of them, or
            * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        if_none_match (str | Unset | UpsertVmIfNoneMatchType0): * creates only: 412 when a VM has
            the name already
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours
        body (VMReplace):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | VM]
    """

    kwargs = _get_kwargs(
        name=name,
        body=body,
        project=project,
        if_match=if_match,
        if_none_match=if_none_match,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    name: str,
    *,
    client: AuthenticatedClient,
    body: VMReplace,
    project: None | str | Unset = UNSET,
    if_match: str | Unset | UpsertVmIfMatchType0 = UNSET,
    if_none_match: str | Unset | UpsertVmIfNoneMatchType0 = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Problem | VM | None:
    """Create (201) or replace (200) the VM with this name, ignoring case

    Args:
        name (str): the VM's name (matched ignoring case)
        project (None | str | Unset): the VM's project (default: the body's, else the key's first
            project, else `default`); names are unique per project
        if_match (str | Unset | UpsertVmIfMatchType0): the ETag you read ("3"), a list of them, or
            * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        if_none_match (str | Unset | UpsertVmIfNoneMatchType0): * creates only: 412 when a VM has
            the name already
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours
        body (VMReplace):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | VM
    """

    return sync_detailed(
        name=name,
        client=client,
        body=body,
        project=project,
        if_match=if_match,
        if_none_match=if_none_match,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    name: str,
    *,
    client: AuthenticatedClient,
    body: VMReplace,
    project: None | str | Unset = UNSET,
    if_match: str | Unset | UpsertVmIfMatchType0 = UNSET,
    if_none_match: str | Unset | UpsertVmIfNoneMatchType0 = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Problem | VM]:
    """Create (201) or replace (200) the VM with this name, ignoring case

    Args:
        name (str): the VM's name (matched ignoring case)
        project (None | str | Unset): the VM's project (default: the body's, else the key's first
            project, else `default`); names are unique per project
        if_match (str | Unset | UpsertVmIfMatchType0): the ETag you read ("3"), a list of them, or
            * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        if_none_match (str | Unset | UpsertVmIfNoneMatchType0): * creates only: 412 when a VM has
            the name already
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours
        body (VMReplace):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | VM]
    """

    kwargs = _get_kwargs(
        name=name,
        body=body,
        project=project,
        if_match=if_match,
        if_none_match=if_none_match,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    name: str,
    *,
    client: AuthenticatedClient,
    body: VMReplace,
    project: None | str | Unset = UNSET,
    if_match: str | Unset | UpsertVmIfMatchType0 = UNSET,
    if_none_match: str | Unset | UpsertVmIfNoneMatchType0 = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Problem | VM | None:
    """Create (201) or replace (200) the VM with this name, ignoring case

    Args:
        name (str): the VM's name (matched ignoring case)
        project (None | str | Unset): the VM's project (default: the body's, else the key's first
            project, else `default`); names are unique per project
        if_match (str | Unset | UpsertVmIfMatchType0): the ETag you read ("3"), a list of them, or
            * (any revision); a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428
        if_none_match (str | Unset | UpsertVmIfNoneMatchType0): * creates only: 412 when a VM has
            the name already
        idempotency_key (str | Unset): 1-255 visible ASCII characters but `"` (or those in double
            quotes); a retry with the same key and request replays the first response (Idempotent-
            Replayed: true) for 24 hours
        body (VMReplace):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | VM
    """

    return (
        await asyncio_detailed(
            name=name,
            client=client,
            body=body,
            project=project,
            if_match=if_match,
            if_none_match=if_none_match,
            idempotency_key=idempotency_key,
        )
    ).parsed
