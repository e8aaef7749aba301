import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.sort_order import SortOrder
from ...models.vm_page import VMPage
from ...models.vm_status import VMStatus
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    project: list[str] | None | Unset = UNSET,
    status: list[VMStatus] | None | Unset = UNSET,
    os: list[str] | Unset = UNSET,
    name_prefix: str | Unset = UNSET,
    label: list[str] | None | Unset = UNSET,
    cpu_cores_min: int | None | Unset = UNSET,
    cpu_cores_max: int | None | Unset = UNSET,
    memory_mib_min: int | None | Unset = UNSET,
    memory_mib_max: int | None | Unset = UNSET,
    storage_gib_min: int | None | Unset = UNSET,
    storage_gib_max: int | None | Unset = UNSET,
    created_after: datetime.datetime | None | Unset = UNSET,
    created_before: datetime.datetime | None | Unset = UNSET,
    ip_address: str | Unset = UNSET,
    ip_in: None | str | Unset = UNSET,
    sort: SortOrder | Unset = UNSET,
    page_size: int | Unset = 50,
    page_token: None | str | Unset = UNSET,
    include_total: bool | Unset = False,
    show_deleted: bool | Unset = False,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_project: list[str] | None | Unset
    if isinstance(project, Unset):
        json_project = UNSET
    elif isinstance(project, list):
        json_project = project

    else:
        json_project = project
    params["project"] = json_project

    json_status: list[str] | None | Unset
    if isinstance(status, Unset):
        json_status = UNSET
    elif isinstance(status, list):
        json_status = []
        for status_type_0_item_data in status:
            status_type_0_item = status_type_0_item_data.value
            json_status.append(status_type_0_item)

    else:
        json_status = status
    params["status"] = json_status

    json_os: list[str] | Unset = UNSET
    if not isinstance(os, Unset):
        json_os = os

    params["os"] = json_os

    params["name_prefix"] = name_prefix

    json_label: list[str] | None | Unset
    if isinstance(label, Unset):
        json_label = UNSET
    elif isinstance(label, list):
        json_label = label

    else:
        json_label = label
    params["label"] = json_label

    json_cpu_cores_min: int | None | Unset
    if isinstance(cpu_cores_min, Unset):
        json_cpu_cores_min = UNSET
    else:
        json_cpu_cores_min = cpu_cores_min
    params["cpu_cores_min"] = json_cpu_cores_min

    json_cpu_cores_max: int | None | Unset
    if isinstance(cpu_cores_max, Unset):
        json_cpu_cores_max = UNSET
    else:
        json_cpu_cores_max = cpu_cores_max
    params["cpu_cores_max"] = json_cpu_cores_max

    json_memory_mib_min: int | None | Unset
    if isinstance(memory_mib_min, Unset):
        json_memory_mib_min = UNSET
    else:
        json_memory_mib_min = memory_mib_min
    params["memory_mib_min"] = json_memory_mib_min

    json_memory_mib_max: int | None | Unset
    if isinstance(memory_mib_max, Unset):
        json_memory_mib_max = UNSET
    else:
        json_memory_mib_max = memory_mib_max
    params["memory_mib_max"] = json_memory_mib_max

    json_storage_gib_min: int | None | Unset
    if isinstance(storage_gib_min, Unset):
        json_storage_gib_min = UNSET
    else:
        json_storage_gib_min = storage_gib_min
    params["storage_gib_min"] = json_storage_gib_min

    json_storage_gib_max: int | None | Unset
    if isinstance(storage_gib_max, Unset):
        json_storage_gib_max = UNSET
    else:
        json_storage_gib_max = storage_gib_max
    params["storage_gib_max"] = json_storage_gib_max

    json_created_after: None | str | Unset
    if isinstance(created_after, Unset):
        json_created_after = UNSET
    elif isinstance(created_after, datetime.datetime):
        json_created_after = created_after.isoformat()
    else:
        json_created_after = created_after
    params["created_after"] = json_created_after

    json_created_before: None | str | Unset
    if isinstance(created_before, Unset):
        json_created_before = UNSET
    elif isinstance(created_before, datetime.datetime):
        json_created_before = created_before.isoformat()
    else:
        json_created_before = created_before
    params["created_before"] = json_created_before

    json_ip_address: str | Unset
    if isinstance(ip_address, Unset):
        json_ip_address = UNSET
    else:
        json_ip_address = ip_address
    params["ip_address"] = json_ip_address

    json_ip_in: None | str | Unset
    if isinstance(ip_in, Unset):
        json_ip_in = UNSET
    else:
        json_ip_in = ip_in
    params["ip_in"] = json_ip_in

    json_sort: str | Unset = UNSET
    if not isinstance(sort, Unset):
        json_sort = sort.value

    params["sort"] = json_sort

    params["page_size"] = page_size

    json_page_token: None | str | Unset
    if isinstance(page_token, Unset):
        json_page_token = UNSET
    else:
        json_page_token = page_token
    params["page_token"] = json_page_token

    params["include_total"] = include_total

    params["show_deleted"] = show_deleted

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/vms",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | VMPage | None:
    if response.status_code == 200:
        response_200 = VMPage.from_dict(response.json())

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
) -> Response[Problem | VMPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    project: list[str] | None | Unset = UNSET,
    status: list[VMStatus] | None | Unset = UNSET,
    os: list[str] | Unset = UNSET,
    name_prefix: str | Unset = UNSET,
    label: list[str] | None | Unset = UNSET,
    cpu_cores_min: int | None | Unset = UNSET,
    cpu_cores_max: int | None | Unset = UNSET,
    memory_mib_min: int | None | Unset = UNSET,
    memory_mib_max: int | None | Unset = UNSET,
    storage_gib_min: int | None | Unset = UNSET,
    storage_gib_max: int | None | Unset = UNSET,
    created_after: datetime.datetime | None | Unset = UNSET,
    created_before: datetime.datetime | None | Unset = UNSET,
    ip_address: str | Unset = UNSET,
    ip_in: None | str | Unset = UNSET,
    sort: SortOrder | Unset = UNSET,
    page_size: int | Unset = 50,
    page_token: None | str | Unset = UNSET,
    include_total: bool | Unset = False,
    show_deleted: bool | Unset = False,
) -> Response[Problem | VMPage]:
    """Find VMs: filters, sort, cursor pages

    Args:
        project (list[str] | None | Unset): repeatable; any of these projects (default: every
            project the key reads; 403 for one it may not)
        status (list[VMStatus] | None | Unset): repeatable; any of these statuses
        os (list[str] | Unset):
        name_prefix (str | Unset):
        label (list[str] | None | Unset): repeatable, all must hold: `key=value`, `key` or `!key`
        cpu_cores_min (int | None | Unset): at least
        cpu_cores_max (int | None | Unset): at most
        memory_mib_min (int | None | Unset): at least
        memory_mib_max (int | None | Unset): at most
        storage_gib_min (int | None | Unset): at least
        storage_gib_max (int | None | Unset): at most
        created_after (datetime.datetime | None | Unset): RFC 3339; created at or after
            (inclusive)
        created_before (datetime.datetime | None | Unset): RFC 3339; created before (exclusive)
        ip_address (str | Unset):
        ip_in (None | str | Unset): addresses inside this CIDR, e.g. 10.0.0.0/24
        sort (SortOrder | Unset): `-` for descending; ties broken by id
        page_size (int | Unset):  Default: 50.
        page_token (None | str | Unset): next_page_token of the previous page, with the same
            filters
        include_total (bool | Unset): add total_size, the count under the same filters: exact up
            to 1,000, past that a lower bound (total_size_exact false) Default: False.
        show_deleted (bool | Unset): include deleted VMs (restorable until their purge_at)
            Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | VMPage]
    """

    kwargs = _get_kwargs(
        project=project,
        status=status,
        os=os,
        name_prefix=name_prefix,
        label=label,
        cpu_cores_min=cpu_cores_min,
        cpu_cores_max=cpu_cores_max,
        memory_mib_min=memory_mib_min,
        memory_mib_max=memory_mib_max,
        storage_gib_min=storage_gib_min,
        storage_gib_max=storage_gib_max,
        created_after=created_after,
        created_before=created_before,
        ip_address=ip_address,
        ip_in=ip_in,
        sort=sort,
        page_size=page_size,
        page_token=page_token,
        include_total=include_total,
        show_deleted=show_deleted,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    project: list[str] | None | Unset = UNSET,
    status: list[VMStatus] | None | Unset = UNSET,
    os: list[str] | Unset = UNSET,
    name_prefix: str | Unset = UNSET,
    label: list[str] | None | Unset = UNSET,
    cpu_cores_min: int | None | Unset = UNSET,
    cpu_cores_max: int | None | Unset = UNSET,
    memory_mib_min: int | None | Unset = UNSET,
    memory_mib_max: int | None | Unset = UNSET,
    storage_gib_min: int | None | Unset = UNSET,
    storage_gib_max: int | None | Unset = UNSET,
    created_after: datetime.datetime | None | Unset = UNSET,
    created_before: datetime.datetime | None | Unset = UNSET,
    ip_address: str | Unset = UNSET,
    ip_in: None | str | Unset = UNSET,
    sort: SortOrder | Unset = UNSET,
    page_size: int | Unset = 50,
    page_token: None | str | Unset = UNSET,
    include_total: bool | Unset = False,
    show_deleted: bool | Unset = False,
) -> Problem | VMPage | None:
    """Find VMs: filters, sort, cursor pages

    Args:
        project (list[str] | None | Unset): repeatable; any of these projects (default: every
            project the key reads; 403 for one it may not)
        status (list[VMStatus] | None | Unset): repeatable; any of these statuses
        os (list[str] | Unset):
        name_prefix (str | Unset):
        label (list[str] | None | Unset): repeatable, all must hold: `key=value`, `key` or `!key`
        cpu_cores_min (int | None | Unset): at least
        cpu_cores_max (int | None | Unset): at most
        memory_mib_min (int | None | Unset): at least
        memory_mib_max (int | None | Unset): at most
        storage_gib_min (int | None | Unset): at least
        storage_gib_max (int | None | Unset): at most
        created_after (datetime.datetime | None | Unset): RFC 3339; created at or after
            (inclusive)
        created_before (datetime.datetime | None | Unset): RFC 3339; created before (exclusive)
        ip_address (str | Unset):
        ip_in (None | str | Unset): addresses inside this CIDR, e.g. 10.0.0.0/24
        sort (SortOrder | Unset): `-` for descending; ties broken by id
        page_size (int | Unset):  Default: 50.
        page_token (None | str | Unset): next_page_token of the previous page, with the same
            filters
        include_total (bool | Unset): add total_size, the count under the same filters: exact up
            to 1,000, past that a lower bound (total_size_exact false) Default: False.
        show_deleted (bool | Unset): include deleted VMs (restorable until their purge_at)
            Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | VMPage
    """

    return sync_detailed(
        client=client,
        project=project,
        status=status,
        os=os,
        name_prefix=name_prefix,
        label=label,
        cpu_cores_min=cpu_cores_min,
        cpu_cores_max=cpu_cores_max,
        memory_mib_min=memory_mib_min,
        memory_mib_max=memory_mib_max,
        storage_gib_min=storage_gib_min,
        storage_gib_max=storage_gib_max,
        created_after=created_after,
        created_before=created_before,
        ip_address=ip_address,
        ip_in=ip_in,
        sort=sort,
        page_size=page_size,
        page_token=page_token,
        include_total=include_total,
        show_deleted=show_deleted,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    project: list[str] | None | Unset = UNSET,
    status: list[VMStatus] | None | Unset = UNSET,
    os: list[str] | Unset = UNSET,
    name_prefix: str | Unset = UNSET,
    label: list[str] | None | Unset = UNSET,
    cpu_cores_min: int | None | Unset = UNSET,
    cpu_cores_max: int | None | Unset = UNSET,
    memory_mib_min: int | None | Unset = UNSET,
    memory_mib_max: int | None | Unset = UNSET,
    storage_gib_min: int | None | Unset = UNSET,
    storage_gib_max: int | None | Unset = UNSET,
    created_after: datetime.datetime | None | Unset = UNSET,
    created_before: datetime.datetime | None | Unset = UNSET,
    ip_address: str | Unset = UNSET,
    ip_in: None | str | Unset = UNSET,
    sort: SortOrder | Unset = UNSET,
    page_size: int | Unset = 50,
    page_token: None | str | Unset = UNSET,
    include_total: bool | Unset = False,
    show_deleted: bool | Unset = False,
) -> Response[Problem | VMPage]:
    """Find VMs: filters, sort, cursor pages

    Args:
        project (list[str] | None | Unset): repeatable; any of these projects (default: every
            project the key reads; 403 for one it may not)
        status (list[VMStatus] | None | Unset): repeatable; any of these statuses
        os (list[str] | Unset):
        name_prefix (str | Unset):
        label (list[str] | None | Unset): repeatable, all must hold: `key=value`, `key` or `!key`
        cpu_cores_min (int | None | Unset): at least
        cpu_cores_max (int | None | Unset): at most
        memory_mib_min (int | None | Unset): at least
        memory_mib_max (int | None | Unset): at most
        storage_gib_min (int | None | Unset): at least
        storage_gib_max (int | None | Unset): at most
        created_after (datetime.datetime | None | Unset): RFC 3339; created at or after
            (inclusive)
        created_before (datetime.datetime | None | Unset): RFC 3339; created before (exclusive)
        ip_address (str | Unset):
        ip_in (None | str | Unset): addresses inside this CIDR, e.g. 10.0.0.0/24
        sort (SortOrder | Unset): `-` for descending; ties broken by id
        page_size (int | Unset):  Default: 50.
        page_token (None | str | Unset): next_page_token of the previous page, with the same
            filters
        include_total (bool | Unset): add total_size, the count under the same filters: exact up
            to 1,000, past that a lower bound (total_size_exact false) Default: False.
        show_deleted (bool | Unset): include deleted VMs (restorable until their purge_at)
            Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | VMPage]
    """

    kwargs = _get_kwargs(
        project=project,
        status=status,
        os=os,
        name_prefix=name_prefix,
        label=label,
        cpu_cores_min=cpu_cores_min,
        cpu_cores_max=cpu_cores_max,
        memory_mib_min=memory_mib_min,
        memory_mib_max=memory_mib_max,
        storage_gib_min=storage_gib_min,
        storage_gib_max=storage_gib_max,
        created_after=created_after,
        created_before=created_before,
        ip_address=ip_address,
        ip_in=ip_in,
        sort=sort,
        page_size=page_size,
        page_token=page_token,
        include_total=include_total,
        show_deleted=show_deleted,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    project: list[str] | None | Unset = UNSET,
    status: list[VMStatus] | None | Unset = UNSET,
    os: list[str] | Unset = UNSET,
    name_prefix: str | Unset = UNSET,
    label: list[str] | None | Unset = UNSET,
    cpu_cores_min: int | None | Unset = UNSET,
    cpu_cores_max: int | None | Unset = UNSET,
    memory_mib_min: int | None | Unset = UNSET,
    memory_mib_max: int | None | Unset = UNSET,
    storage_gib_min: int | None | Unset = UNSET,
    storage_gib_max: int | None | Unset = UNSET,
    created_after: datetime.datetime | None | Unset = UNSET,
    created_before: datetime.datetime | None | Unset = UNSET,
    ip_address: str | Unset = UNSET,
    ip_in: None | str | Unset = UNSET,
    sort: SortOrder | Unset = UNSET,
    page_size: int | Unset = 50,
    page_token: None | str | Unset = UNSET,
    include_total: bool | Unset = False,
    show_deleted: bool | Unset = False,
) -> Problem | VMPage | None:
    """Find VMs: filters, sort, cursor pages

    Args:
        project (list[str] | None | Unset): repeatable; any of these projects (default: every
            project the key reads; 403 for one it may not)
        status (list[VMStatus] | None | Unset): repeatable; any of these statuses
        os (list[str] | Unset):
        name_prefix (str | Unset):
        label (list[str] | None | Unset): repeatable, all must hold: `key=value`, `key` or `!key`
        cpu_cores_min (int | None | Unset): at least
        cpu_cores_max (int | None | Unset): at most
        memory_mib_min (int | None | Unset): at least
        memory_mib_max (int | None | Unset): at most
        storage_gib_min (int | None | Unset): at least
        storage_gib_max (int | None | Unset): at most
        created_after (datetime.datetime | None | Unset): RFC 3339; created at or after
            (inclusive)
        created_before (datetime.datetime | None | Unset): RFC 3339; created before (exclusive)
        ip_address (str | Unset):
        ip_in (None | str | Unset): addresses inside this CIDR, e.g. 10.0.0.0/24
        sort (SortOrder | Unset): `-` for descending; ties broken by id
        page_size (int | Unset):  Default: 50.
        page_token (None | str | Unset): next_page_token of the previous page, with the same
            filters
        include_total (bool | Unset): add total_size, the count under the same filters: exact up
            to 1,000, past that a lower bound (total_size_exact false) Default: False.
        show_deleted (bool | Unset): include deleted VMs (restorable until their purge_at)
            Default: False.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | VMPage
    """

    return (
        await asyncio_detailed(
            client=client,
            project=project,
            status=status,
            os=os,
            name_prefix=name_prefix,
            label=label,
            cpu_cores_min=cpu_cores_min,
            cpu_cores_max=cpu_cores_max,
            memory_mib_min=memory_mib_min,
            memory_mib_max=memory_mib_max,
            storage_gib_min=storage_gib_min,
            storage_gib_max=storage_gib_max,
            created_after=created_after,
            created_before=created_before,
            ip_address=ip_address,
            ip_in=ip_in,
            sort=sort,
            page_size=page_size,
            page_token=page_token,
            include_total=include_total,
            show_deleted=show_deleted,
        )
    ).parsed
