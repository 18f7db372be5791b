"""`client.trajectories`: create, list (is_generated filter), get, update, delete, duplicate, latest.

`trajectory_data` and `dimensions` must be generated model objects
(`TrajectoryCreateTrajectoryDataItem.from_dict`, `TrajectoryCreateDimensions.from_dict`);
plain dicts fail inside the SDK before any request is sent.
"""

from __future__ import annotations

import re
import uuid

import pytest
from cyberdesk import TrajectoryUpdate
from openapi_client.cyberdesk_cloud_client.models import TrajectoryUpdateTrajectoryDataType0Item

from sdk_helpers import (
    BASIC_STEPS,
    DIMENSIONS,
    assert_aware,
    error_detail,
    expect_rejected,
    expect_status,
    ids,
    new_trajectory,
    new_workflow,
    ok,
    plain,
    trajectory_create,
    unique,
    val,
)


def steps_of(trajectory) -> list[dict]:
    return [plain(step) for step in val(trajectory.trajectory_data) or []]


def test_create_returns_the_trajectory(client) -> None:
    workflow = new_workflow(client)
    name = unique("recorded")
    created = ok(
        client.trajectories.create_sync(
            trajectory_create(
                workflow.id,
                BASIC_STEPS,
                name=name,
                description="Recorded by hand",
                original_input_values={"patient_name": "Ada"},
            )
        ),
        "trajectories.create",
    )
    assert created.workflow_id == workflow.id
    assert created.name == name
    assert created.description == "Recorded by hand"
    assert steps_of(created) == BASIC_STEPS, "steps (including extra keys such as 'comment') must round-trip"
    assert plain(created.dimensions) == DIMENSIONS
    assert plain(created.original_input_values) == {"patient_name": "Ada"}
    assert created.is_approved is False
    assert created.has_been_approved is False
    assert created.is_main is False
    assert isinstance(created.is_generated, bool)
    assert_aware(created.created_at, "created_at")
    assert_aware(created.updated_at, "updated_at")


def test_get_returns_the_trajectory(client) -> None:
    workflow = new_workflow(client)
    created = new_trajectory(client, workflow.id)
    got = ok(client.trajectories.get_sync(str(created.id)), "trajectories.get")
    assert got.id == created.id and got.workflow_id == workflow.id
    assert steps_of(got) == BASIC_STEPS
    assert plain(got.dimensions) == DIMENSIONS


def test_list_honours_the_is_generated_filter(client) -> None:
    """`trajectories.list()` sends `is_generated=true` unless the caller passes `is_generated=None`."""
    workflow = new_workflow(client)
    created = new_trajectory(client, workflow.id)

    everything = ok(
        client.trajectories.list_sync(workflow_id=str(workflow.id), is_generated=None), "list(is_generated=None)"
    )
    assert ids(everything.items) == [str(created.id)] and everything.total == 1

    matching = ok(client.trajectories.list_sync(workflow_id=str(workflow.id), is_generated=created.is_generated))
    assert ids(matching.items) == [str(created.id)]
    other = ok(client.trajectories.list_sync(workflow_id=str(workflow.id), is_generated=not created.is_generated))
    assert other.items == [] and other.total == 0

    default = ok(client.trajectories.list_sync(workflow_id=str(workflow.id)), "list() with the SDK default")
    assert all(item.is_generated is True for item in default.items)


def test_list_filters_by_workflow_and_approval(client) -> None:
    workflow = new_workflow(client)
    approved = new_trajectory(client, workflow.id, is_approved=True)
    draft = new_trajectory(client, workflow.id)
    new_trajectory(client, new_workflow(client).id)

    both = ok(client.trajectories.list_sync(workflow_id=str(workflow.id), is_generated=None))
    assert sorted(ids(both.items)) == sorted([str(approved.id), str(draft.id)])
    only_approved = ok(
        client.trajectories.list_sync(workflow_id=str(workflow.id), is_approved=True, is_generated=None)
    )
    assert ids(only_approved.items) == [str(approved.id)]
    only_drafts = ok(
        client.trajectories.list_sync(workflow_id=str(workflow.id), is_approved=False, is_generated=None)
    )
    assert ids(only_drafts.items) == [str(draft.id)]


def test_list_pagination(client) -> None:
    workflow = new_workflow(client)
    made = {str(new_trajectory(client, workflow.id).id) for _ in range(3)}
    seen: list[str] = []
    for skip in (0, 2):
        page = ok(client.trajectories.list_sync(skip=skip, limit=2, workflow_id=str(workflow.id), is_generated=None))
        assert page.total == 3 and page.skip == skip and page.limit == 2
        seen += ids(page.items)
    assert sorted(seen) == sorted(made)


def test_update_approves_and_marks_main(client) -> None:
    workflow = new_workflow(client)
    created = new_trajectory(client, workflow.id)
    approved = ok(
        client.trajectories.update_sync(
            str(created.id), TrajectoryUpdate(name="approved one", description="checked", is_approved=True)
        ),
        "trajectories.update(approve)",
    )
    assert approved.id == created.id
    assert approved.name == "approved one" and approved.description == "checked"
    assert approved.is_approved is True
    assert approved.has_been_approved is True

    main = ok(client.trajectories.update_sync(str(created.id), TrajectoryUpdate(is_main=True)), "update(is_main)")
    assert main.is_main is True
    assert ok(client.trajectories.get_sync(str(created.id))).is_main is True


def test_update_replaces_steps(client) -> None:
    workflow = new_workflow(client)
    created = new_trajectory(client, workflow.id)
    new_steps = [
        {"func_name": "mouse_move", "args": [10, 20], "kwargs": {}},
        {"func_name": "scroll", "args": [], "kwargs": {"direction": "down", "amount": 3}},
    ]
    updated = ok(
        client.trajectories.update_sync(
            str(created.id),
            TrajectoryUpdate(trajectory_data=[TrajectoryUpdateTrajectoryDataType0Item.from_dict(s) for s in new_steps]),
        ),
        "trajectories.update(trajectory_data)",
    )
    assert steps_of(updated) == new_steps
    assert steps_of(ok(client.trajectories.get_sync(str(created.id)))) == new_steps


def test_delete(client) -> None:
    workflow = new_workflow(client)
    created = new_trajectory(client, workflow.id)
    deleted = client.trajectories.delete_sync(str(created.id))
    assert deleted.error is None, deleted.error
    assert deleted.data == {"success": True}
    expect_status(client.trajectories.get_sync(str(created.id)), 404, what="trajectories.get after delete")
    listed = ok(client.trajectories.list_sync(workflow_id=str(workflow.id), is_generated=None))
    assert listed.total == 0


def test_duplicate_copies_the_steps_under_a_new_id(client) -> None:
    workflow = new_workflow(client)
    original = new_trajectory(client, workflow.id, is_approved=True)
    copy = ok(client.trajectories.duplicate_sync(str(original.id)), "trajectories.duplicate")
    assert copy.id != original.id
    assert copy.workflow_id == workflow.id
    assert steps_of(copy) == steps_of(original)
    assert plain(copy.dimensions) == plain(original.dimensions)
    listed = ok(client.trajectories.list_sync(workflow_id=str(workflow.id), is_generated=None))
    assert sorted(ids(listed.items)) == sorted([str(original.id), str(copy.id)])
    ok(client.trajectories.get_sync(str(original.id)), "the original is kept")


def test_latest_for_workflow(client) -> None:
    workflow = new_workflow(client)
    expect_status(
        client.trajectories.get_latest_for_workflow_sync(str(workflow.id)),
        404,
        what="latest trajectory of a workflow without trajectories",
    )
    new_trajectory(client, workflow.id, name="older")
    newer = new_trajectory(client, workflow.id, name="newer")
    latest = ok(client.trajectories.get_latest_for_workflow_sync(str(workflow.id)), "get_latest_for_workflow")
    assert latest.id == newer.id
    assert steps_of(latest) == BASIC_STEPS


# ----- step validation ----------------------------------------------------------------

GOOD = [
    {"func_name": "click", "args": [1, 2], "kwargs": {}},
    {"func_name": "wait", "args": [], "kwargs": {"seconds": 1}},
]

BAD_STEPS = {
    "unknown-func-name": ({"func_name": "teleport", "args": [1, 2], "kwargs": {}}, "teleport"),
    "missing-argument": ({"func_name": "click", "args": [], "kwargs": {}}, None),
    "wrong-type": ({"func_name": "wait", "args": [], "kwargs": {"seconds": "soon"}}, None),
    "secret-outside-type": ({"func_name": "set_clipboard", "args": [], "kwargs": {"text": "{$password}"}}, None),
    "secret-in-terminal-command": (
        {"func_name": "execute_terminal_command", "args": [], "kwargs": {"command": "echo {$password}"}},
        None,
    ),
}


@pytest.mark.parametrize("bad_step,named", BAD_STEPS.values(), ids=BAD_STEPS.keys())
def test_create_rejects_an_invalid_step_naming_its_index(client, bad_step, named) -> None:
    workflow = new_workflow(client)
    response = client.trajectories.create_sync(trajectory_create(workflow.id, GOOD + [bad_step]))
    error = expect_status(response, 400, what=f"trajectory with {bad_step}")
    detail = error_detail(error)
    # The bad step is the third one: index 2 (or "step 3" if the server counts from one).
    assert re.search(r"\b[23]\b", detail), f"the error should name the step index: {detail!r}"
    if named:
        assert named in detail, f"the error should name {named!r}: {detail!r}"
    listed = ok(client.trajectories.list_sync(workflow_id=str(workflow.id), is_generated=None))
    assert listed.total == 0, "a rejected trajectory must not be stored"


def test_create_rejects_an_empty_trajectory(client) -> None:
    workflow = new_workflow(client)
    expect_rejected(client.trajectories.create_sync(trajectory_create(workflow.id, [])), 400, what="no steps")


def test_secret_inside_type_is_allowed(client) -> None:
    workflow = new_workflow(client)
    steps = [{"func_name": "type", "args": [], "kwargs": {"text": "user {name} / {$password}"}}]
    created = new_trajectory(client, workflow.id, steps)
    assert steps_of(created) == steps


def test_update_rejects_an_invalid_step(client) -> None:
    workflow = new_workflow(client)
    created = new_trajectory(client, workflow.id)
    bad = GOOD + [{"func_name": "teleport", "args": [], "kwargs": {}}]
    response = client.trajectories.update_sync(
        str(created.id),
        TrajectoryUpdate(trajectory_data=[TrajectoryUpdateTrajectoryDataType0Item.from_dict(s) for s in bad]),
    )
    error = expect_status(response, 400, what="update with an unknown func_name")
    assert "teleport" in error_detail(error)
    assert steps_of(ok(client.trajectories.get_sync(str(created.id)))) == BASIC_STEPS, "the old steps are kept"


def test_trajectory_for_unknown_workflow_is_refused(client) -> None:
    response = client.trajectories.create_sync(trajectory_create(str(uuid.uuid4()), GOOD))
    expect_status(response, 404, 400, what="trajectory for an unknown workflow")


# A 1x1 PNG (one gold pixel), for checkpoint crops.
PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4f50BAASvAdfA0BA+AAAAAElFTkSuQmCC"


def checkpoint_step(**checkpoint) -> dict:
    return {"func_name": "click", "args": [10, 10], "checkpoint": {"region": [10, 10, 1, 1], "png": PNG_1X1, **checkpoint}}


@pytest.mark.parametrize(
    "checkpoint, message",
    [
        ({"region": [1900, 1070, 40, 20]}, "not inside the trajectory's dimensions 1920x1080"),
        ({"region": [10, 10, 2000, 1]}, "region 2000x1"),
        ({"region": [10, 10]}, "region must be [x, y, width, height]"),
        ({"png": "not base64 !"}, "png must be the crop as base64"),
        ({"png": PNG_1X1[:40]}, "not a decodable PNG"),
        ({"region": [10, 10, 2, 1]}, "png is 1x1, the region 2x1"),
        ({"threshold": 3}, "threshold must be a number from 0.0 to 1.0"),
        ({"timeout": -1}, "timeout must be a number"),
    ],
)
def test_bad_checkpoints_are_refused_naming_the_step(client, checkpoint, message) -> None:
    workflow = new_workflow(client)
    steps = [{"func_name": "wait", "args": [0.1]}, checkpoint_step(**checkpoint)]
    response = client.trajectories.create_sync(trajectory_create(workflow.id, steps))
    expect_status(response, 400, what="trajectories.create with a bad checkpoint")
    detail = error_detail(response.error)
    assert "step 1 (click): checkpoint" in detail and message in detail, detail


def test_a_good_checkpoint_is_kept_as_written(client) -> None:
    workflow = new_workflow(client)
    step = checkpoint_step(threshold=0.1, timeout=3)
    created = ok(client.trajectories.create_sync(trajectory_create(workflow.id, [step])), "trajectories.create")
    assert steps_of(created)[0]["checkpoint"] == step["checkpoint"]
    # Moving the dimensions so the region falls outside is refused too.
    response = client.trajectories.update_sync(
        str(created.id), TrajectoryUpdate.from_dict({"dimensions": {"width": 8, "height": 8}})
    )
    expect_status(response, 400, what="trajectories.update shrinking the dimensions")
    assert "not inside the trajectory's dimensions 8x8" in error_detail(response.error)
