"""The list tools, made once: one page of one kind, each object as its resource module's row.

Every `list_*` tool takes the same arguments (namespace, selectors, a bounded `limit` and the
`continue_token` of the previous page) and answers in the same frame (the rows, and the API's
`continue` token for the next page), so the frame is written here and each resource module
supplies only what differs: the API method and how one object becomes a row. A method may be a
typed one (its rows read model objects) or a `Kube.json_list` read (its rows read the API's JSON).

This module deliberately does not use postponed annotations: the tools' signatures are read at
registration (catalog, FastMCP) and must hold the argument types themselves.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from gateway.kube import Kube
from gateway.tools.shape import page
from gateway.validation import ContinueToken, FieldSelector, LabelSelector, Limit, Namespace

DEFAULT_PAGE = 100

Row = Callable[[Any], dict[str, Any]]
Rows = Callable[[Kube, str | None, list[Any]], Awaitable[list[dict[str, Any]]]]
"""Rows of one page; given the namespace, for rows that join another read (a Service's endpoints)."""
Method = Callable[[Kube], Callable[..., Any]]
"""Picks the API method from the `Kube` the tool is bound to, e.g. `lambda kube: kube.core.list_namespaced_pod`."""
ListTool = Callable[..., Awaitable[dict[str, Any]]]


def each(row: Row) -> Rows:
    """Rows made one object at a time."""

    async def rows(_: Kube, __: str | None, items: list[Any]) -> list[dict[str, Any]]:
        return [row(item) for item in items]

    return rows


def namespaced_list(key: str, description: str, *, method: Method, rows: Rows) -> ListTool:
    """The tool `list_<key>` over a namespaced kind; its answer holds the rows under `key`."""

    async def tool(
        kube: Kube,
        namespace: Namespace = "default",
        label_selector: LabelSelector = None,
        field_selector: FieldSelector = None,
        limit: Limit = DEFAULT_PAGE,
        continue_token: ContinueToken = None,
    ) -> dict[str, Any]:
        result = await kube.call(
            method(kube),
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            limit=limit,
            _continue=continue_token,
        )
        return {"namespace": namespace, key: await rows(kube, namespace, _items(result)), **page(result)}

    return _named(tool, f"list_{key}", description)


def cluster_list(key: str, description: str, *, method: Method, row: Row) -> ListTool:
    """The tool `list_<key>` over a cluster-scoped kind."""

    async def tool(
        kube: Kube,
        label_selector: LabelSelector = None,
        limit: Limit = DEFAULT_PAGE,
        continue_token: ContinueToken = None,
    ) -> dict[str, Any]:
        result = await kube.call(method(kube), label_selector=label_selector, limit=limit, _continue=continue_token)
        return {key: [row(item) for item in _items(result)], **page(result)}

    return _named(tool, f"list_{key}", description)


def _items(result: Any) -> list[Any]:
    """The objects of a list answer: a list model's, or those of the API's JSON."""
    items: list[Any] = result["items"] or [] if isinstance(result, Mapping) else result.items
    return items


def _named(tool: ListTool, name: str, description: str) -> ListTool:
    """Give a made tool the name and docstring the catalog and `tools/list` show."""
    tool.__name__ = tool.__qualname__ = name
    tool.__doc__ = description
    return tool
