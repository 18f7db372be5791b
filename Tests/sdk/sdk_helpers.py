"""Small helpers shared by the SDK compatibility tests.

Every SDK call returns `ApiResponse(data, error)` and never raises. A success has
`error is None`; any status other than the documented one (and 422) becomes
`error = UnexpectedStatus(status_code, content)`; a 422 is parsed as
`HTTPValidationError` and lands in `.data` (in `.error` for `runs.list` and
`runs.bulk_create`). These helpers turn that into assertions with readable messages.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any, Iterable, Optional

import httpx
from cyberdesk import (
    CyberdeskClient,
    MachineCreate,
    RunCreate,
    TrajectoryCreate,
    WorkflowCreate,
)
from cyberdesk.client import PoolCreate
from openapi_client.cyberdesk_cloud_client.errors import UnexpectedStatus
from openapi_client.cyberdesk_cloud_client.models import (
    HTTPValidationError,
    TrajectoryCreateDimensions,
    TrajectoryCreateTrajectoryDataItem,
)
from openapi_client.cyberdesk_cloud_client.types import Unset

# A valid trajectory in the format of STEPS.md. The `comment` key is an extra key the
# server must keep (and the agent ignore).
BASIC_STEPS: list[dict[str, Any]] = [
    {"func_name": "click", "args": [850, 450], "kwargs": {"button": "left"}},
    {"func_name": "type", "args": [], "kwargs": {"text": "Patient {patient_name}"}},
    {"func_name": "key", "args": ["ctrl+s"], "kwargs": {}, "comment": "save the form"},
    {"func_name": "wait", "args": [], "kwargs": {"seconds": 0.5}},
    {"func_name": "screenshot", "args": [], "kwargs": {}},
]
DIMENSIONS = {"width": 1920, "height": 1080}


REQUEST_TIMEOUT = httpx.Timeout(30.0)
"""The SDK's default is no timeout at all; a test suite must not hang on a stuck request."""


def make_client(api_key: str, base_url: str, **kwargs: Any) -> CyberdeskClient:
    return CyberdeskClient(api_key, base_url=base_url, timeout=REQUEST_TIMEOUT, **kwargs)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ----- reading responses ------------------------------------------------------------


def describe_error(error: Any) -> str:
    if isinstance(error, UnexpectedStatus):
        body = error.content.decode("utf-8", errors="replace")
        if len(body) > 800:
            body = body[:800] + "..."
        return f"UnexpectedStatus HTTP {error.status_code}: {body}"
    if isinstance(error, HTTPValidationError):
        return f"HTTP 422 validation error: {json.dumps(error.to_dict())}"
    return f"{type(error).__name__}: {error!r}"


def ok(response: Any, what: str = "SDK call") -> Any:
    """Asserts an SDK call succeeded and returns `.data`."""
    assert response.error is None, f"{what} failed: {describe_error(response.error)}"
    assert not isinstance(response.data, HTTPValidationError), (
        f"{what}: the server answered 422 (it lands in .data): {json.dumps(response.data.to_dict())}"
    )
    assert response.data is not None, f"{what}: no data and no error"
    return response.data


def http_status(response: Any, what: str = "SDK call") -> int:
    """The status of a failed SDK call (which the SDK reports as `UnexpectedStatus`)."""
    assert response.error is not None, f"{what} was expected to fail but succeeded with data {response.data!r}"
    assert isinstance(response.error, UnexpectedStatus), (
        f"{what}: expected UnexpectedStatus, got {describe_error(response.error)}"
    )
    return response.error.status_code


def expect_status(response: Any, *statuses: int, what: str = "SDK call") -> UnexpectedStatus:
    status = http_status(response, what)
    assert status in statuses, (
        f"{what}: expected HTTP {' or '.join(map(str, statuses))}, got {describe_error(response.error)}"
    )
    return response.error


def expect_rejected(response: Any, *statuses: int, what: str = "SDK call") -> None:
    """A request the server must refuse: one of `statuses`, or a 422 (which the SDK puts in .data)."""
    if response.error is None and isinstance(response.data, HTTPValidationError):
        return
    if isinstance(response.error, HTTPValidationError):
        return
    expect_status(response, *statuses, what=what)


def error_detail(error: UnexpectedStatus) -> str:
    """The `detail` string of a `{"detail": "..."}` business error."""
    try:
        body = json.loads(error.content)
    except ValueError:
        raise AssertionError(f"error body is not JSON: {error.content!r}") from None
    assert isinstance(body, dict) and "detail" in body, f"error body has no 'detail': {body!r}"
    return body["detail"] if isinstance(body["detail"], str) else json.dumps(body["detail"])


def val(value: Any) -> Any:
    """`UNSET` (key absent) as None."""
    return None if isinstance(value, Unset) else value


def plain(value: Any) -> Any:
    """Generated model objects (and lists of them) as plain JSON-like values."""
    if isinstance(value, Unset):
        return None
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def ids(items: Iterable[Any]) -> list[str]:
    return [str(item.id) for item in items]


def assert_aware(value: Any, field: str) -> None:
    assert isinstance(value, datetime), f"{field} should be a datetime, got {value!r}"
    assert value.tzinfo is not None, f"{field} must carry a timezone offset, got {value.isoformat()}"


def contains_text(value: Any, needle: str) -> bool:
    return needle in json.dumps(plain(value), default=str)


# ----- creating resources --------------------------------------------------------------


def new_workflow(client: CyberdeskClient, **fields: Any):
    fields.setdefault("name", unique("workflow"))
    fields.setdefault("main_prompt", "Open the chart of {patient_name} and save it")
    return ok(client.workflows.create_sync(WorkflowCreate(**fields)), "workflows.create")


def new_runnable_workflow(client: CyberdeskClient, steps=None, **fields: Any):
    """A workflow with an approved trajectory, so runs have something to execute."""
    workflow = new_workflow(client, **fields)
    new_trajectory(client, workflow.id, steps, is_approved=True)
    return workflow


def new_machine(client: CyberdeskClient, **fields: Any):
    fields.setdefault("fingerprint", unique("fingerprint"))
    fields.setdefault("unkey_key_id", unique("key"))
    fields.setdefault("name", unique("machine"))
    return ok(client.machines.create_sync(MachineCreate(**fields)), "machines.create")


def new_pool(client: CyberdeskClient, **fields: Any):
    fields.setdefault("name", unique("pool"))
    return ok(client.pools.create_sync(PoolCreate(**fields)), "pools.create")


def trajectory_create(
    workflow_id: Any,
    steps: Optional[list[dict[str, Any]]] = None,
    *,
    dimensions: Optional[dict[str, Any]] = None,
    **fields: Any,
) -> TrajectoryCreate:
    return TrajectoryCreate(
        workflow_id=workflow_id,
        trajectory_data=[
            TrajectoryCreateTrajectoryDataItem.from_dict(step) for step in (BASIC_STEPS if steps is None else steps)
        ],
        dimensions=TrajectoryCreateDimensions.from_dict(dimensions or DIMENSIONS),
        **fields,
    )


def new_trajectory(client: CyberdeskClient, workflow_id: Any, steps=None, **fields: Any):
    fields.setdefault("name", unique("trajectory"))
    return ok(
        client.trajectories.create_sync(trajectory_create(workflow_id, steps, **fields)),
        "trajectories.create",
    )


def new_run(client: CyberdeskClient, workflow_id: Any, **fields: Any):
    return ok(client.runs.create_sync(RunCreate(workflow_id=workflow_id, **fields)), "runs.create")
