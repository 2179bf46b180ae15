"""Argument types of the tools, and the check every call passes before the policy sees it.

Each type carries its rule twice: as JSON Schema (so clients see it in `tools/list`) and as a
validator whose message names the rule. A call that breaks a rule is refused before OPA's allow
path and before Kubernetes, with one `field: rule` line per problem.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Annotated, Any, get_type_hints

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from gateway.errors import InvalidArguments

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

_KEY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?"
_LABEL_REQUIREMENT = (
    rf"\s*(!?{_KEY}|{_KEY}\s*(=|==|!=)\s*{_VALUE}|{_KEY}\s+(in|notin)\s+\(\s*{_VALUE}(\s*,\s*{_VALUE})*\s*\))\s*"
)
_FIELD_REQUIREMENT = r"\s*[A-Za-z][A-Za-z0-9_.]*\s*(=|==|!=)\s*[-A-Za-z0-9_.:/]*\s*"
LABEL_SELECTOR = re.compile(rf"^{_LABEL_REQUIREMENT}(,{_LABEL_REQUIREMENT})*$")
"""Comma-separated requirements; a comma inside `in (a,b)` belongs to its requirement."""
FIELD_SELECTOR = re.compile(rf"^{_FIELD_REQUIREMENT}(,{_FIELD_REQUIREMENT})*$")
CONTINUE_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
"""The apiserver's continue tokens are unpadded URL-safe base64 of a small JSON document."""

MAX_PAGE = 500


def matching(pattern: re.Pattern[str], rule: str) -> Callable[[str], str]:
    """The validator of one pattern. Every pattern is anchored (`^...$`), so that a client that
    checks the JSON Schema itself (where `pattern` matches anywhere unless anchored) refuses the
    same values the gateway refuses; `fullmatch` also refuses a trailing newline, which `$` admits."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(rule)
        return value

    return check


def _stripped(value: str) -> str:
    return value.strip()


_LABEL_RULE = "must be a DNS-1123 label: 1-63 lowercase letters, digits or '-', starting and ending alphanumeric"
_SUBDOMAIN_RULE = (
    "must be a DNS-1123 subdomain: at most 253 lowercase letters, digits, '-' or '.', starting and ending alphanumeric"
)

Namespace = Annotated[
    str,
    Field(
        max_length=63, description="Namespace (DNS-1123 label).", json_schema_extra={"pattern": DNS1123_LABEL.pattern}
    ),
    AfterValidator(matching(DNS1123_LABEL, _LABEL_RULE)),
]
ObjectName = Annotated[
    str,
    Field(max_length=253, json_schema_extra={"pattern": DNS1123_SUBDOMAIN.pattern}),
    AfterValidator(matching(DNS1123_SUBDOMAIN, _SUBDOMAIN_RULE)),
]
"""An object's name; each tool says in its own description which object it names."""
ContainerName = Annotated[
    str,
    Field(max_length=63, json_schema_extra={"pattern": DNS1123_LABEL.pattern}),
    AfterValidator(matching(DNS1123_LABEL, _LABEL_RULE)),
]
LabelSelector = Annotated[
    Annotated[
        str,
        Field(max_length=1024, json_schema_extra={"pattern": LABEL_SELECTOR.pattern}),
        AfterValidator(matching(LABEL_SELECTOR, "must be a label selector such as 'app=web,tier!=db'")),
        AfterValidator(_stripped),
    ]
    | None,
    Field(description="Label selector, e.g. 'app=web,tier!=db' or 'env in (a,b)'."),
]
FieldSelector = Annotated[
    Annotated[
        str,
        Field(max_length=1024, json_schema_extra={"pattern": FIELD_SELECTOR.pattern}),
        AfterValidator(matching(FIELD_SELECTOR, "must be a field selector such as 'status.phase=Running'")),
        AfterValidator(_stripped),
    ]
    | None,
    Field(description="Field selector, e.g. 'status.phase=Running' or 'metadata.name=web'."),
]
Limit = Annotated[
    int,
    Field(ge=1, le=MAX_PAGE, description=f"Page size: at most this many objects (1-{MAX_PAGE})."),
]
ContinueToken = Annotated[
    Annotated[
        str,
        Field(max_length=4096, json_schema_extra={"pattern": CONTINUE_TOKEN.pattern}),
        AfterValidator(matching(CONTINUE_TOKEN, "must be the `continue` value of a previous page, unchanged")),
    ]
    | None,
    Field(description="The `continue` value of the previous page, to get the next one; omit for the first page."),
]

APPROVAL_ID_RULE = "must be an approval id: 32 letters, digits, '-' or '_', not starting with '-'"
APPROVAL_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{31}$")
ApprovalId = Annotated[
    str,
    Field(
        description="The id of an approval request, as the gateway returned it.",
        json_schema_extra={"pattern": APPROVAL_ID.pattern},
    ),
    AfterValidator(matching(APPROVAL_ID, APPROVAL_ID_RULE)),
]


def arguments_model(fn: Callable[..., Any], *, skip: int = 1) -> type[BaseModel]:
    """Build, once per tool, a strict model of `fn`'s keyword arguments.

    The first `skip` parameters are injected by the server (the Kubernetes client) and are not
    the agent's to set. Unknown arguments are an error rather than silently dropped, so that an
    agent never believes a filter was applied when it was not.
    """
    hints = get_type_hints(fn, include_extras=True)
    params = list(inspect.signature(fn).parameters.values())[skip:]
    fields: dict[str, Any] = {
        p.name: (hints[p.name], ... if p.default is inspect.Parameter.empty else p.default) for p in params
    }
    return create_model(
        f"{fn.__name__}_arguments",
        __config__=ConfigDict(extra="forbid", str_strip_whitespace=False),
        **fields,
    )


def validate_arguments(model: type[BaseModel], raw: dict[str, Any]) -> dict[str, Any]:
    """Return the normalised arguments (defaults filled in) or raise `InvalidArguments`."""
    try:
        return model.model_validate(raw).model_dump(mode="json")
    except ValidationError as exc:
        raise InvalidArguments([_describe(error) for error in exc.errors()]) from None


def _describe(error: Any) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "arguments"
    if error["type"] == "extra_forbidden":
        return f"{field}: is not an argument of this tool"
    if error["type"] == "missing":
        return f"{field}: is required"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{field}: {message}"
