"""What a write would change, shown before anyone approves it.

Each write tool names a preview beside its handler: it reads the object as it is and runs the
tool's own Kubernetes call with `dryRun=All`, so the API server validates, defaults and admits the
change and persists nothing. This module compares the two specs field by field, e.g.
`spec.replicas: 3 → 5`. A preview that cannot be made (the object is missing, the API refuses)
says why instead; the request is made all the same, and the write itself will meet that error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from gateway.errors import KubeError
from gateway.kube import Kube

Snapshot = tuple[dict[str, Any], dict[str, Any]]
"""A write's preview: the object's spec as it is, and as the write's own call would leave it."""
PreviewFunction = Callable[..., Awaitable[Snapshot]]

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{prefix}[{json.dumps(key)}]"


def _changes(before: Any, after: Any, path: str) -> Iterator[dict[str, Any]]:
    """Changed leaves; a map that is absent on one side counts as empty, so each new key is named."""
    if isinstance(before, dict | None) and isinstance(after, dict | None) and (before or after) is not None:
        before, after = before or {}, after or {}
        for key in sorted(before.keys() | after.keys()):
            yield from _changes(before.get(key), after.get(key), _path(path, key))
    elif before != after:
        yield {"field": path, "before": before, "after": after}


def _shown(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value, sort_keys=True)


async def preview(kube: Kube, function: PreviewFunction | None, arguments: dict[str, Any]) -> dict[str, Any]:
    """`changes` (field, before, after) and a `summary` line per change, from a server-side dry run."""
    if function is None:
        return {"changes": [], "summary": ["no preview for this tool"]}
    # The preview always runs as a dry run; the agent's own dry_run choice does not apply to it.
    given = {name: value for name, value in arguments.items() if name != "dry_run"}
    try:
        before, after = await function(kube, **given)
    except KubeError as exc:
        return {"changes": [], "summary": [f"no preview: {exc}"]}
    changes = list(_changes(before, after, "spec"))
    summary = [f"{c['field']}: {_shown(c['before'])} → {_shown(c['after'])}" for c in changes]
    return {"changes": changes, "summary": summary or ["no change to the object's spec"]}
