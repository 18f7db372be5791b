"""`client.workflows`: create, list, get, update (versions), delete."""

from __future__ import annotations

import json
import uuid

from cyberdesk import RunCreate, WorkflowCreate, WorkflowUpdate

from sdk_helpers import (
    assert_aware,
    contains_text,
    expect_status,
    ids,
    new_run,
    new_runnable_workflow,
    new_trajectory,
    new_workflow,
    ok,
    plain,
    unique,
    val,
)

INPUT_SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {"patient_name": {"type": "string"}},
        "required": ["patient_name"],
    }
)


def test_create_returns_the_workflow(client) -> None:
    name = unique("create")
    created = ok(
        client.workflows.create_sync(
            WorkflowCreate(
                main_prompt="Open the chart of {patient_name}",
                name=name,
                input_schema=INPUT_SCHEMA,
                output_schema=json.dumps({"type": "object"}),
                terminal_command_allowlist=["ls {dir}", "cat {file}"],
            )
        ),
        "workflows.create",
    )
    assert created.name == name
    assert created.main_prompt == "Open the chart of {patient_name}"
    assert json.loads(created.input_schema) == json.loads(INPUT_SCHEMA)
    assert json.loads(created.output_schema) == {"type": "object"}
    assert created.terminal_command_allowlist == ["ls {dir}", "cat {file}"]
    assert created.includes_file_exports is False
    assert created.is_webhooks_enabled is False
    assert_aware(created.created_at, "created_at")
    assert_aware(created.updated_at, "updated_at")
    assert not val(created.old_versions), "a new workflow has no old versions"


def test_create_with_flags(client) -> None:
    created = ok(
        client.workflows.create_sync(
            WorkflowCreate(main_prompt="Export files", name=unique("flags"), includes_file_exports=True)
        )
    )
    assert created.includes_file_exports is True


def test_get_returns_what_was_created(client, workflow) -> None:
    got = ok(client.workflows.get_sync(str(workflow.id)), "workflows.get")
    assert got.id == workflow.id
    assert got.name == workflow.name
    assert got.main_prompt == workflow.main_prompt
    assert got.created_at == workflow.created_at


def test_list_finds_by_search(client) -> None:
    marker = unique("searchable")
    wanted = new_workflow(client, name=f"Chart export {marker}")
    new_workflow(client, name=unique("unrelated"))
    page = ok(client.workflows.list_sync(search=marker), "workflows.list(search=...)")
    assert ids(page.items) == [str(wanted.id)]
    assert page.total == 1


def test_list_defaults_and_shape(fresh_org_client) -> None:
    made = [new_workflow(fresh_org_client) for _ in range(3)]
    page = ok(fresh_org_client.workflows.list_sync(), "workflows.list")
    assert page.total == 3
    assert page.skip == 0 and page.limit == 100
    assert sorted(ids(page.items)) == sorted(str(w.id) for w in made)


def test_update_changes_fields_and_keeps_the_old_version(client) -> None:
    workflow = new_workflow(client, main_prompt="Version one prompt")
    updated = ok(
        client.workflows.update_sync(
            str(workflow.id), WorkflowUpdate(main_prompt="Version two prompt", name="renamed " + workflow.name)
        ),
        "workflows.update",
    )
    assert updated.id == workflow.id
    assert updated.main_prompt == "Version two prompt"
    assert updated.name == "renamed " + workflow.name
    assert updated.updated_at >= workflow.updated_at
    old = val(updated.old_versions) or []
    assert old, "the previous version must be kept in old_versions"
    assert any(contains_text(v, "Version one prompt") for v in old), f"old_versions: {plain(old)}"

    fetched = ok(client.workflows.get_sync(str(workflow.id)))
    assert fetched.main_prompt == "Version two prompt"
    assert any(contains_text(v, "Version one prompt") for v in val(fetched.old_versions) or [])


def test_update_only_touches_given_fields(client) -> None:
    workflow = new_workflow(client, main_prompt="keep me", input_schema=INPUT_SCHEMA)
    updated = ok(client.workflows.update_sync(str(workflow.id), WorkflowUpdate(name=unique("only-name"))))
    assert updated.main_prompt == "keep me"
    assert json.loads(updated.input_schema) == json.loads(INPUT_SCHEMA)


def test_update_unknown_is_404(client) -> None:
    expect_status(client.workflows.update_sync(str(uuid.uuid4()), WorkflowUpdate(name="x")), 404)


def test_delete_removes_the_workflow_its_runs_and_trajectories(client) -> None:
    workflow = new_workflow(client)
    trajectory = new_trajectory(client, workflow.id, is_approved=True)
    run = new_run(client, workflow.id, input_values={"patient_name": "Ada"})

    deleted = client.workflows.delete_sync(str(workflow.id))
    assert deleted.error is None, deleted.error
    assert deleted.data == {"success": True}

    expect_status(client.workflows.get_sync(str(workflow.id)), 404, what="get after delete")
    expect_status(client.runs.get_sync(str(run.id)), 404, what="run of a deleted workflow")
    expect_status(client.trajectories.get_sync(str(trajectory.id)), 404, what="trajectory of a deleted workflow")
    expect_status(client.workflows.delete_sync(str(workflow.id)), 404, what="second delete")


def test_runs_use_the_workflow_input_schema(client) -> None:
    """`input_schema` validates the merged inputs at run creation (400 on failure)."""
    workflow = new_runnable_workflow(
        client,
        input_schema=json.dumps(
            {
                "type": "object",
                "properties": {"patient_id": {"type": "string"}, "visits": {"type": "integer"}},
                "required": ["patient_id"],
            }
        ),
    )
    good = new_run(client, workflow.id, input_values={"patient_id": "P-1", "visits": 3})
    assert plain(good.input_values) == {"patient_id": "P-1", "visits": 3}

    missing = client.runs.create_sync(RunCreate(workflow_id=workflow.id, input_values={"visits": 3}))
    expect_status(missing, 400, what="run without a required input")
    wrong_type = client.runs.create_sync(RunCreate(workflow_id=workflow.id, input_values={"patient_id": 42}))
    expect_status(wrong_type, 400, what="run with an input of the wrong type")


def test_sensitive_inputs_are_validated_under_dollar_names(client) -> None:
    workflow = new_runnable_workflow(
        client,
        input_schema=json.dumps(
            {"type": "object", "properties": {"$password": {"type": "string"}}, "required": ["$password"]}
        ),
    )
    expect_status(client.runs.create_sync(RunCreate(workflow_id=workflow.id)), 400, what="missing $password")
    run = new_run(client, workflow.id, sensitive_input_values={"password": "correct horse"})
    assert "password" in (plain(run.sensitive_input_aliases) or {})
