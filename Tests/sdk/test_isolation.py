"""Organization isolation: another organization's ids are 404, its lists never show my data."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cyberdesk import AttachmentType, FileInput, MachineUpdate, RunCreate, RunStatus, RunUpdate, WorkflowUpdate
from cyberdesk.client import MachinePoolAssignment, PoolUpdate

from sdk_helpers import (
    b64,
    expect_status,
    ids,
    new_machine,
    new_pool,
    new_run,
    new_runnable_workflow,
    new_trajectory,
    ok,
    unique,
)


@dataclass
class AdminData:
    workflow: object
    trajectory: object
    machine: object
    pool: object
    run: object
    attachment: object


@pytest.fixture(scope="module")
def admin_data(client) -> AdminData:
    workflow = new_runnable_workflow(client, name=unique("private-workflow"))
    trajectory = new_trajectory(client, workflow.id)
    machine = new_machine(client, name=unique("private-machine"))
    pool = new_pool(client, name=unique("private-pool"))
    run = new_run(
        client,
        workflow.id,
        machine_id=machine.id,
        file_inputs=[FileInput(filename="private.txt", content=b64(b"private data"))],
    )
    attachments = ok(client.run_attachments.list_sync(run_id=str(run.id))).items
    assert len(attachments) == 1
    return AdminData(workflow, trajectory, machine, pool, run, attachments[0])


def test_reads_of_another_orgs_ids_are_404(other_client, admin_data: AdminData) -> None:
    d = admin_data
    expect_status(other_client.workflows.get_sync(str(d.workflow.id)), 404, what="workflows.get")
    expect_status(other_client.runs.get_sync(str(d.run.id)), 404, what="runs.get")
    expect_status(other_client.machines.get_sync(str(d.machine.id)), 404, what="machines.get")
    expect_status(other_client.machines.get_pools_sync(str(d.machine.id)), 404, what="machines.get_pools")
    expect_status(other_client.pools.get_sync(str(d.pool.id)), 404, what="pools.get")
    expect_status(other_client.trajectories.get_sync(str(d.trajectory.id)), 404, what="trajectories.get")
    expect_status(
        other_client.trajectories.get_latest_for_workflow_sync(str(d.workflow.id)), 404, what="latest trajectory"
    )
    expect_status(other_client.run_attachments.get_sync(str(d.attachment.id)), 404, what="run_attachments.get")
    expect_status(other_client.run_attachments.download_sync(str(d.attachment.id)), 404, what="download")
    expect_status(
        other_client.run_attachments.get_download_url_sync(str(d.attachment.id)), 404, what="get_download_url"
    )


def test_writes_to_another_orgs_ids_are_404_and_change_nothing(client, other_client, admin_data: AdminData) -> None:
    d = admin_data
    expect_status(other_client.workflows.update_sync(str(d.workflow.id), WorkflowUpdate(name="hijacked")), 404)
    expect_status(other_client.workflows.delete_sync(str(d.workflow.id)), 404, what="workflows.delete")
    expect_status(other_client.runs.update_sync(str(d.run.id), RunUpdate(status=RunStatus.CANCELLED)), 404)
    expect_status(other_client.runs.delete_sync(str(d.run.id)), 404, what="runs.delete")
    expect_status(other_client.machines.update_sync(str(d.machine.id), MachineUpdate(name="hijacked")), 404)
    expect_status(other_client.machines.delete_sync(str(d.machine.id)), 404, what="machines.delete")
    expect_status(other_client.pools.update_sync(str(d.pool.id), PoolUpdate(name="hijacked")), 404)
    expect_status(other_client.pools.delete_sync(str(d.pool.id)), 404, what="pools.delete")
    expect_status(other_client.trajectories.delete_sync(str(d.trajectory.id)), 404, what="trajectories.delete")
    expect_status(other_client.trajectories.duplicate_sync(str(d.trajectory.id)), 404, what="duplicate")
    expect_status(other_client.run_attachments.delete_sync(str(d.attachment.id)), 404, what="attachment delete")

    assert ok(client.workflows.get_sync(str(d.workflow.id))).name == d.workflow.name
    assert ok(client.runs.get_sync(str(d.run.id))).status == RunStatus.SCHEDULING
    assert ok(client.machines.get_sync(str(d.machine.id))).name == d.machine.name
    assert ok(client.pools.get_sync(str(d.pool.id))).name == d.pool.name
    ok(client.trajectories.get_sync(str(d.trajectory.id)))
    assert ok(client.run_attachments.download_sync(str(d.attachment.id))) == b"private data"


def test_cannot_use_another_orgs_resources_by_reference(other_client, admin_data: AdminData) -> None:
    d = admin_data
    expect_status(
        other_client.runs.create_sync(RunCreate(workflow_id=d.workflow.id)), 404, 400, what="run of a foreign workflow"
    )
    own_workflow = new_runnable_workflow(other_client)
    expect_status(
        other_client.runs.create_sync(RunCreate(workflow_id=own_workflow.id, machine_id=d.machine.id)),
        404,
        400,
        what="run on a foreign machine",
    )
    expect_status(
        other_client.runs.create_sync(RunCreate(workflow_id=own_workflow.id, session_id=d.run.id)),
        404,
        400,
        what="run joining a foreign session",
    )
    own_pool = new_pool(other_client)
    expect_status(
        other_client.pools.add_machines_sync(str(own_pool.id), MachinePoolAssignment(machine_ids=[d.machine.id])),
        404,
        400,
        what="adding a foreign machine to my pool",
    )


def test_lists_never_show_another_orgs_data(other_client, admin_data: AdminData) -> None:
    d = admin_data
    assert ok(other_client.workflows.list_sync(search=d.workflow.name)).total == 0
    assert str(d.workflow.id) not in ids(ok(other_client.workflows.list_sync()).items)
    assert str(d.run.id) not in ids(ok(other_client.runs.list_sync()).items)
    assert ok(other_client.machines.list_sync(name=d.machine.name)).total == 0
    assert str(d.pool.id) not in ids(ok(other_client.pools.list_sync()).items)
    assert str(d.trajectory.id) not in ids(ok(other_client.trajectories.list_sync(is_generated=None)).items)
    attachments = ok(other_client.run_attachments.list_sync(attachment_type=AttachmentType.INPUT))
    assert str(d.attachment.id) not in ids(attachments.items)


def test_a_new_organization_sees_nothing(fresh_org_client, admin_data: AdminData) -> None:
    sdk = fresh_org_client
    assert ok(sdk.workflows.list_sync(), "workflows.list").total == 0
    assert ok(sdk.runs.list_sync(), "runs.list").total == 0
    assert ok(sdk.machines.list_sync(), "machines.list").total == 0
    assert ok(sdk.pools.list_sync(), "pools.list").total == 0
    assert ok(sdk.trajectories.list_sync(is_generated=None), "trajectories.list").total == 0
    assert ok(sdk.run_attachments.list_sync(), "run_attachments.list").total == 0
    assert ok(sdk.connections.list_sync(), "connections.list").total == 0
