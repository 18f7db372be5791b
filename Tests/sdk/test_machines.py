"""`client.machines`: create, list, get, update, pools, clear_session, delete."""

from __future__ import annotations

import uuid

from cyberdesk import MachineCreate, MachineStatus, MachineUpdate, RunCreate
from cyberdesk.client import MachinePoolUpdate

from sdk_helpers import (
    assert_aware,
    contains_text,
    expect_status,
    ids,
    new_machine,
    new_pool,
    new_run,
    ok,
    plain,
    unique,
    val,
)


def test_create_returns_the_machine(client) -> None:
    fingerprint, key_id, name = unique("fp"), unique("unkey"), unique("desk")
    created = ok(
        client.machines.create_sync(
            MachineCreate(
                fingerprint=fingerprint,
                unkey_key_id=key_id,
                name=name,
                version="1.0.0",
                hostname="ehr-desk-01",
                os_info="Debian 12",
                machine_parameters={"clinic": "North", "floor": 3},
            )
        ),
        "machines.create",
    )
    assert created.name == name
    assert created.unkey_key_id == key_id
    assert created.hostname == "ehr-desk-01"
    assert created.os_info == "Debian 12"
    assert created.version == "1.0.0"
    assert plain(created.machine_parameters) == {"clinic": "North", "floor": 3}
    assert isinstance(created.status, MachineStatus)
    assert isinstance(created.is_available, bool)
    assert isinstance(created.alerts_enabled, bool)
    assert_aware(created.created_at, "created_at")
    assert_aware(created.last_seen, "last_seen")
    assert val(created.reserved_session_id) is None


def test_sensitive_machine_parameters_come_back_as_aliases_only(client) -> None:
    secret = "s3cret-" + unique("value")
    created = new_machine(client, machine_sensitive_parameters={"emr_password": secret})
    assert set(plain(created.machine_sensitive_parameters) or {}) == {"emr_password"}
    assert not contains_text(created, secret), "the create response leaked a sensitive parameter"
    fetched = ok(client.machines.get_sync(str(created.id)))
    assert not contains_text(fetched, secret), "get leaked a sensitive parameter"
    listed = ok(client.machines.list_sync(name=created.name))
    assert not contains_text(listed, secret), "list leaked a sensitive parameter"


def test_get_and_list(client) -> None:
    machine = new_machine(client, hostname=unique("host"))
    got = ok(client.machines.get_sync(str(machine.id)), "machines.get")
    assert got.id == machine.id and got.name == machine.name
    by_name = ok(client.machines.list_sync(name=machine.name), "machines.list(name=...)")
    assert ids(by_name.items) == [str(machine.id)] and by_name.total == 1
    by_search = ok(client.machines.list_sync(search=machine.hostname), "machines.list(search=hostname)")
    assert str(machine.id) in ids(by_search.items)


def test_list_status_filter_only_returns_that_status(client, machine) -> None:
    for status in MachineStatus:
        page = ok(client.machines.list_sync(status=status), f"machines.list(status={status.value})")
        assert all(item.status == status for item in page.items), f"status={status.value}"
    own_status = ok(client.machines.list_sync(status=machine.status, name=machine.name))
    assert ids(own_status.items) == [str(machine.id)]


def test_update_changes_fields(client, machine) -> None:
    updated = ok(
        client.machines.update_sync(
            str(machine.id), MachineUpdate(name="renamed-" + machine.name, machine_parameters={"clinic": "South"})
        ),
        "machines.update",
    )
    assert updated.id == machine.id
    assert updated.name == "renamed-" + machine.name
    assert plain(updated.machine_parameters) == {"clinic": "South"}
    assert updated.unkey_key_id == machine.unkey_key_id
    assert ok(client.machines.get_sync(str(machine.id))).name == "renamed-" + machine.name


def test_update_pools_replaces_membership_and_returns_the_machine(client, machine) -> None:
    first, second = new_pool(client), new_pool(client)
    result = ok(
        client.machines.update_pools_sync(str(machine.id), MachinePoolUpdate(pool_ids=[first.id, second.id])),
        "machines.update_pools",
    )
    # The generated parser expects a machine object here (not a list of pools).
    assert result.id == machine.id
    pools = ok(client.machines.get_pools_sync(str(machine.id)), "machines.get_pools")
    assert isinstance(pools, list)
    assert sorted(ids(pools)) == sorted([str(first.id), str(second.id)])

    # include=pools: the pools show up on the machine, or in `included`.
    with_pools = ok(client.machines.get_sync(str(machine.id), include=["pools"]), "machines.get(include=pools)")
    shown = set(ids(val(with_pools.pools) or [])) | {
        str(item.id) for item in val(with_pools.included) or [] if item.type_ == "pool"
    }
    assert {str(first.id), str(second.id)} <= shown, f"pools of the machine not shown: {shown}"
    listed = ok(client.machines.list_sync(name=machine.name, include=["pools"]), "machines.list(include=pools)")
    assert ids(listed.items) == [str(machine.id)]

    ok(client.machines.update_pools_sync(str(machine.id), MachinePoolUpdate(pool_ids=[second.id])))
    assert ids(ok(client.machines.get_pools_sync(str(machine.id)))) == [str(second.id)]

    ok(client.machines.update_pools_sync(str(machine.id), MachinePoolUpdate(pool_ids=[])))
    assert ok(client.machines.get_pools_sync(str(machine.id))) == []


def test_get_pools_of_a_machine_without_pools_is_an_empty_list(client, machine) -> None:
    assert ok(client.machines.get_pools_sync(str(machine.id))) == []


def test_clear_session_sends_null_and_returns_the_machine(client, machine, workflow) -> None:
    new_run(client, workflow.id, machine_id=machine.id, start_session=True)
    cleared = ok(client.machines.clear_session_sync(str(machine.id)), "machines.clear_session")
    assert cleared.id == machine.id
    assert val(cleared.reserved_session_id) is None
    assert val(ok(client.machines.get_sync(str(machine.id))).reserved_session_id) is None


def test_delete_keeps_runs_and_nulls_their_machine(client, workflow) -> None:
    machine = new_machine(client)
    run = new_run(client, workflow.id, machine_id=machine.id)
    assert str(run.machine_id) == str(machine.id)

    deleted = client.machines.delete_sync(str(machine.id))
    assert deleted.error is None, deleted.error
    assert deleted.data == {"success": True}

    expect_status(client.machines.get_sync(str(machine.id)), 404, what="machines.get after delete")
    kept = ok(client.runs.get_sync(str(run.id)), "the run must survive its machine")
    assert val(kept.machine_id) is None
    listed = ok(client.runs.list_sync(workflow_id=str(workflow.id)))
    assert [val(r.machine_id) for r in listed.items if str(r.id) == str(run.id)] == [None]


def test_run_on_unknown_machine_is_refused(client, workflow) -> None:
    response = client.runs.create_sync(RunCreate(workflow_id=workflow.id, machine_id=str(uuid.uuid4())))
    expect_status(response, 404, 400, what="runs.create with an unknown machine_id")
