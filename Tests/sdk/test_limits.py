"""Size limits per route and per field (docs/LIMITS.md), through the official SDK.

A body over its route's limit is 413 naming the route and the limit; a field over its limit
is a FastAPI-shaped 422 whose `loc` names the field and whose `msg` names the limit. Either
way nothing is stored: the lists and records read afterwards are unchanged. Routes where
files travel still take large bodies.
"""

from __future__ import annotations

import json
from typing import Any

from cyberdesk import (
    AttachmentType,
    FileInput,
    RunAttachmentCreate,
    RunCreate,
    TrajectoryUpdate,
    WorkflowCreate,
    WorkflowUpdate,
)
from cyberdesk.client import PoolCreate, PoolUpdate, WorkflowChainCreate
from openapi_client.cyberdesk_cloud_client.models import (
    ChainStep,
    HTTPValidationError,
    TrajectoryUpdateTrajectoryDataType0Item,
)

from sdk_helpers import (
    b64,
    error_detail,
    expect_status,
    new_runnable_workflow,
    new_workflow,
    ok,
    plain,
    trajectory_create,
    unique,
    val,
)

MiB = 1 << 20
PROMPT_CHARACTERS = 128 * 1024
SCHEMA_CHARACTERS = 128 * 1024
NAME_CHARACTERS = 255
DESCRIPTION_CHARACTERS = 16 * 1024
INPUT_VALUES_BYTES = MiB
TRAJECTORY_STEPS = 10_000


def expect_field_limit(response: Any, loc: list[Any], limit: int, what: str) -> None:
    """A 422 (the SDK puts it in .data, or in .error for some wrappers) naming `loc` and `limit`."""
    refusal = response.data if isinstance(response.data, HTTPValidationError) else response.error
    assert isinstance(refusal, HTTPValidationError), (
        f"{what}: expected a 422, got data={response.data!r} error={response.error!r}"
    )
    items = plain(refusal).get("detail") or []
    assert items, f"{what}: a 422 without detail items: {plain(refusal)}"
    item = items[0]
    assert item["loc"] == ["body", *loc], f"{what}: the 422 should name {loc}: {json.dumps(item)}"
    assert str(limit) in item["msg"], f"{what}: the 422 should name the limit {limit}: {json.dumps(item)}"


def versions(client, workflow_id: Any) -> list[Any]:
    fetched = ok(client.workflows.get_sync(str(workflow_id)), "workflows.get")
    return val(fetched.old_versions) or []


# ----- workflows ------------------------------------------------------------------------


def test_prompt_over_its_limit_is_422_and_creates_nothing(fresh_org_client) -> None:
    client = fresh_org_client
    response = client.workflows.create_sync(WorkflowCreate(main_prompt="x" * (PROMPT_CHARACTERS + 1)))
    expect_field_limit(response, ["main_prompt"], PROMPT_CHARACTERS, "a prompt one character over")
    assert ok(client.workflows.list_sync()).total == 0
    # At the limit exactly, it is accepted; characters are counted, not bytes.
    at_limit = new_workflow(client, main_prompt="é" * PROMPT_CHARACTERS)
    assert len(at_limit.main_prompt) == PROMPT_CHARACTERS


def test_update_over_a_limit_changes_nothing_and_keeps_no_version(client) -> None:
    workflow = new_workflow(client, main_prompt="Open the chart of {patient_name}")
    for update, loc, limit in [
        (WorkflowUpdate(main_prompt="y" * (PROMPT_CHARACTERS + 1)), ["main_prompt"], PROMPT_CHARACTERS),
        (WorkflowUpdate(name="n" * (NAME_CHARACTERS + 1)), ["name"], NAME_CHARACTERS),
        (WorkflowUpdate(input_schema="s" * (SCHEMA_CHARACTERS + 1)), ["input_schema"], SCHEMA_CHARACTERS),
        (WorkflowUpdate(output_schema="s" * (SCHEMA_CHARACTERS + 1)), ["output_schema"], SCHEMA_CHARACTERS),
    ]:
        response = client.workflows.update_sync(str(workflow.id), update)
        expect_field_limit(response, loc, limit, f"workflows.update of {loc[0]}")
    fetched = ok(client.workflows.get_sync(str(workflow.id)))
    assert fetched.main_prompt == "Open the chart of {patient_name}"
    assert fetched.name == workflow.name
    assert versions(client, workflow.id) == [], "a refused update must not add an old version"


def test_name_and_schemas_over_their_limits_are_422(fresh_org_client) -> None:
    client = fresh_org_client
    for create, loc, limit in [
        (WorkflowCreate(main_prompt="p", name="n" * (NAME_CHARACTERS + 1)), ["name"], NAME_CHARACTERS),
        (
            WorkflowCreate(main_prompt="p", input_schema="s" * (SCHEMA_CHARACTERS + 1)),
            ["input_schema"],
            SCHEMA_CHARACTERS,
        ),
        (
            WorkflowCreate(main_prompt="p", output_schema="s" * (SCHEMA_CHARACTERS + 1)),
            ["output_schema"],
            SCHEMA_CHARACTERS,
        ),
    ]:
        expect_field_limit(client.workflows.create_sync(create), loc, limit, f"workflows.create with {loc[0]}")
    assert ok(client.workflows.list_sync()).total == 0


def test_a_body_over_the_small_limit_is_413_naming_the_route_and_limit(fresh_org_client) -> None:
    client = fresh_org_client
    # Under the old shared 100 MiB limit this was accepted; a workflow carries no file.
    error = expect_status(client.workflows.create_sync(WorkflowCreate(main_prompt="x" * (2 * MiB))), 413)
    detail = error_detail(error)
    assert "/v1/workflows" in detail and "1 MiB" in detail, detail
    error = expect_status(client.pools.create_sync(PoolCreate(name=unique("pool"), description="d" * (2 * MiB))), 413)
    assert "/v1/pools" in error_detail(error)
    assert ok(client.workflows.list_sync()).total == 0
    assert ok(client.pools.list_sync()).total == 0


# ----- pools ----------------------------------------------------------------------------


def test_pool_name_and_description_over_their_limits_are_422(fresh_org_client) -> None:
    client = fresh_org_client
    expect_field_limit(
        client.pools.create_sync(PoolCreate(name="p" * (NAME_CHARACTERS + 1))), ["name"], NAME_CHARACTERS, "pool name"
    )
    expect_field_limit(
        client.pools.create_sync(PoolCreate(name=unique("pool"), description="d" * (DESCRIPTION_CHARACTERS + 1))),
        ["description"],
        DESCRIPTION_CHARACTERS,
        "pool description",
    )
    assert ok(client.pools.list_sync()).total == 0
    pool = ok(client.pools.create_sync(PoolCreate(name=unique("pool"), description="kept")))
    expect_field_limit(
        client.pools.update_sync(str(pool.id), PoolUpdate(description="d" * (DESCRIPTION_CHARACTERS + 1))),
        ["description"],
        DESCRIPTION_CHARACTERS,
        "pools.update description",
    )
    assert ok(client.pools.get_sync(str(pool.id))).description == "kept"


# ----- trajectories ---------------------------------------------------------------------


def trajectories_of(client, workflow_id: Any) -> int:
    return ok(client.trajectories.list_sync(workflow_id=str(workflow_id), is_generated=None)).total


def test_trajectory_over_its_step_limit_or_with_long_name_is_422(client) -> None:
    workflow = new_workflow(client)
    too_many = [{"func_name": "screenshot", "args": [], "kwargs": {}}] * (TRAJECTORY_STEPS + 1)
    expect_field_limit(
        client.trajectories.create_sync(trajectory_create(workflow.id, too_many)),
        ["trajectory_data"],
        TRAJECTORY_STEPS,
        "a trajectory of 10,001 steps",
    )
    expect_field_limit(
        client.trajectories.create_sync(trajectory_create(workflow.id, name="t" * (NAME_CHARACTERS + 1))),
        ["name"],
        NAME_CHARACTERS,
        "a trajectory name",
    )
    expect_field_limit(
        client.trajectories.create_sync(
            trajectory_create(workflow.id, original_input_values={"note": "x" * INPUT_VALUES_BYTES})
        ),
        ["original_input_values"],
        INPUT_VALUES_BYTES,
        "a trajectory's original_input_values",
    )
    assert trajectories_of(client, workflow.id) == 0


def test_trajectory_data_over_its_size_limit_is_422_and_changes_nothing(client) -> None:
    workflow = new_workflow(client)
    kept = ok(client.trajectories.create_sync(trajectory_create(workflow.id, name=unique("kept"))))
    # 32 steps each typing 1 MiB (the largest string argument): just over the 32 MiB of
    # trajectory_data, under the 33 MiB body limit of trajectory routes.
    steps = [{"func_name": "type", "args": [], "kwargs": {"text": "a" * MiB}}] * 32
    update = TrajectoryUpdate(trajectory_data=[TrajectoryUpdateTrajectoryDataType0Item.from_dict(s) for s in steps])
    expect_field_limit(
        client.trajectories.update_sync(str(kept.id), update),
        ["trajectory_data"],
        32 * MiB,
        "a 32 MiB trajectory",
    )
    fetched = ok(client.trajectories.get_sync(str(kept.id)))
    assert [plain(step)["func_name"] for step in fetched.trajectory_data] == [
        plain(step)["func_name"] for step in kept.trajectory_data
    ]
    assert trajectories_of(client, workflow.id) == 1


# ----- runs -----------------------------------------------------------------------------


def runs_of(client, workflow_id: Any) -> int:
    return ok(client.runs.list_sync(workflow_id=str(workflow_id))).total


def test_run_inputs_over_their_limit_are_422_and_create_no_run(client) -> None:
    workflow = new_runnable_workflow(client)
    big = {"patient_name": "x" * INPUT_VALUES_BYTES}
    expect_field_limit(
        client.runs.create_sync(RunCreate(workflow_id=workflow.id, input_values=big)),
        ["input_values"],
        INPUT_VALUES_BYTES,
        "runs.create input_values",
    )
    expect_field_limit(
        client.runs.create_sync(RunCreate(workflow_id=workflow.id, sensitive_input_values=big)),
        ["sensitive_input_values"],
        INPUT_VALUES_BYTES,
        "runs.create sensitive_input_values",
    )
    expect_field_limit(
        client.runs.chain_sync(
            WorkflowChainCreate(
                steps=[ChainStep(workflow_id=workflow.id), ChainStep(workflow_id=workflow.id, inputs=big)]
            )
        ),
        ["steps", 1, "inputs"],
        INPUT_VALUES_BYTES,
        "runs.chain step inputs",
    )
    expect_field_limit(
        client.runs.chain_sync(WorkflowChainCreate(steps=[ChainStep(workflow_id=workflow.id)], shared_inputs=big)),
        ["shared_inputs"],
        INPUT_VALUES_BYTES,
        "runs.chain shared_inputs",
    )
    assert runs_of(client, workflow.id) == 0


def test_file_routes_still_take_large_bodies(client) -> None:
    workflow = new_runnable_workflow(client)
    content = bytes(range(256)) * (5 * MiB // 256)
    run = ok(
        client.runs.create_sync(
            RunCreate(workflow_id=workflow.id, file_inputs=[FileInput(filename="scan.bin", content=b64(content))])
        ),
        "runs.create with a 5 MiB file",
    )
    attachment = ok(
        client.run_attachments.create_sync(
            RunAttachmentCreate(
                run_id=run.id,
                filename="scan2.bin",
                content=b64(content),
                content_type="application/octet-stream",
                attachment_type=AttachmentType.INPUT,
            )
        ),
        "run_attachments.create of 5 MiB",
    )
    assert attachment.size_bytes == len(content)
    assert ok(client.run_attachments.download_sync(str(attachment.id))) == content
    ok(client.runs.delete_sync(str(run.id)))
