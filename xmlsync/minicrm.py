"""What one MiniCRM system holds, fetched once through MiniCRM's REST API into a file that can be committed.

``GET {base}/Api/R3/Category`` gives ``{"23": "Értékesítés", ...}``; ``GET {base}/Api/R3/Schema/Project/{id}``
gives per field a type (``"Name": "Text(512)"``, ``"IsPrivate": "Boolean"``, ``"Oklevel": "File(10MB)"``) or
the allowed values by id (``"StatusId": {"2519": "Feldolgozásra vár"}``, ``"Enum1057": {...}``). The file
(:class:`~xmlsync.config.SystemSchema`) holds no secret: ids, names and labels only. What is checked with it
is :mod:`xmlsync.system`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from xmlsync.config import SystemSchema
from xmlsync.errors import Issue
from xmlsync.push import Credentials, PushError, check_base_url, exchange, open_client


def _get(
    http: Any, url: str, credentials: Credentials, timeout: float, own: bool, body: dict[str, str] | None = None
) -> dict[str, Any]:
    """Send a GET (or, with ``body``, a POST of that JSON object) and return MiniCRM's JSON object answer."""
    auth = (credentials.system_id, credentials.api_key)
    if body is None:
        answer = exchange(http, "GET", url, auth=auth, timeout=timeout, own=own)
    else:
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data))}  # not chunked
        content = iter([data])
        answer = exchange(http, "POST", url, auth=auth, timeout=timeout, own=own, content=content, headers=headers)
    if answer.data is not None:
        return answer.data
    if answer.status in (401, 403):
        message = (
            f"MiniCRM refused the request ({answer.status}: {answer.text}); check MINICRM_SYSTEM_ID and MINICRM_API_KEY"
        )
    elif answer.status == 200:
        message = f"the answer is not MiniCRM's (HTTP 200, {answer.text}); check --base-url and the network"
    elif answer.status is None:
        message = answer.text
    else:
        message = f"MiniCRM answered {answer.status}: {answer.text or 'no text'}"
    raise PushError([Issue("minicrm-request", message, source=url)])


def fetch_categories(
    credentials: Credentials, base_url: str, *, timeout: float = 30.0, client: Any = None
) -> dict[str, str]:
    """Return the system's categories (id -> name), from ``GET /Api/R3/Category``.

    Raises:
        OptionsError: ``base-url``, as for push.
        PushError: ``minicrm-request``: refused, no answer, or not MiniCRM's answer.
    """
    base = check_base_url(base_url)
    http = client or open_client(timeout)
    try:
        data = _get(http, f"{base}/Api/R3/Category", credentials, timeout, client is None)
    finally:
        if client is None:
            http.close()
    return {str(key): str(value) for key, value in data.items()}


def fetch_schema(
    credentials: Credentials,
    base_url: str,
    category_ids: Sequence[str],
    *,
    offer_category: str | None = None,
    timeout: float = 30.0,
    client: Any = None,
) -> SystemSchema:
    """Return the categories and the card fields of ``category_ids`` (and of ``offer_category``).

    Raises:
        OptionsError: ``base-url``, as for push.
        PushError: ``minicrm-request``: refused, no answer, or not MiniCRM's answer.
    """
    base = check_base_url(base_url)
    http = client or open_client(timeout)
    wanted = list(dict.fromkeys([*category_ids, *([offer_category] if offer_category else [])]))
    try:
        categories = _get(http, f"{base}/Api/R3/Category", credentials, timeout, client is None)
        fields = {
            category: _get(http, f"{base}/Api/R3/Schema/Project/{category}", credentials, timeout, client is None)
            for category in wanted
        }
    finally:
        if client is None:
            http.close()
    clean = {category: {str(name): _kind(kind) for name, kind in types.items()} for category, types in fields.items()}
    return SystemSchema({str(k): str(v) for k, v in categories.items()}, clean, offer_category)


def _kind(kind: Any) -> Any:
    """Return a field's type as text, or its allowed values as texts by id."""
    return {str(k): str(v) for k, v in kind.items()} if isinstance(kind, dict) else str(kind)


def _offer_call(
    credentials: Credentials, base_url: str, path: str, body: dict[str, str] | None, timeout: float, client: Any
) -> dict[str, Any]:
    base = check_base_url(base_url)
    http = client or open_client(timeout)
    try:
        return _get(http, f"{base}{path}", credentials, timeout, client is None, body)
    finally:
        if client is None:
            http.close()


def get_offer(
    credentials: Credentials, base_url: str, offer_id: int, *, timeout: float = 30.0, client: Any = None
) -> dict[str, Any]:
    """Return an offer as MiniCRM holds it, from ``GET /Api/Offer/{id}`` (its items, customer, document).

    Raises:
        OptionsError: ``base-url``, as for push.
        PushError: ``minicrm-request``: refused, no answer, or not MiniCRM's answer.
    """
    return _offer_call(credentials, base_url, f"/Api/Offer/{offer_id}", None, timeout, client)


def set_offer_status(
    credentials: Credentials,
    base_url: str,
    offer_id: int,
    status: str,
    fields: Mapping[str, str] | None = None,
    *,
    timeout: float = 30.0,
    client: Any = None,
) -> dict[str, Any]:
    """Move an offer to ``status`` (a status id or name of its card) and set fields of its card, with
    ``POST /Api/Offer/{id}/Project`` ``{"StatusId": ..., "Field": "value"}``; return MiniCRM's answer.

    Raises:
        OptionsError: ``base-url``, as for push.
        PushError: ``minicrm-request``: refused (MiniCRM says why), no answer, or not MiniCRM's answer.
    """
    body = {"StatusId": status, **(fields or {})}
    return _offer_call(credentials, base_url, f"/Api/Offer/{offer_id}/Project", body, timeout, client)
