"""`client.pools`: create, list, get (with machines), update, machines in and out, delete."""

from __future__ import annotations

import uuid

from cyberdesk.client import MachinePoolAssignment, PoolCreate, PoolUpdate

from sdk_helpers import (
    assert_aware,
    contains_text,
    expect_status,
    ids,
    new_machine,
    new_pool,
    ok,
    plain,
    unique,
    val,
)


def test_create_returns_the_pool(client) -> None:
    name = unique("pool")
    created = ok(
        client.pools.create_sync(
            PoolCreate(name=name, description="Front desk machines", pool_parameters={"site": "North"})
        ),
        "pools.create",
    )
    assert created.name == name
    assert created.description == "Front desk machines"
    assert plain(created.pool_parameters) == {"site": "North"}
    assert isinstance(created.organization_id, str) and created.organization_id
    assert (val(created.machine_count) or 0) == 0
    assert_aware(created.created_at, "created_at")
    assert_aware(created.updated_at, "updated_at")


def test_sensitive_pool_parameters_come_back_as_aliases_only(client) -> None:
    secret = "pool-secret-" + unique("v")
    created = new_pool(client, pool_sensitive_parameters={"vpn_password": secret})
    assert set(plain(created.pool_sensitive_parameters) or {}) == {"vpn_password"}
    assert not contains_text(created, secret)
    assert not contains_text(ok(client.pools.get_sync(str(created.id))), secret)


def test_list_and_get(client) -> None:
    pool = new_pool(client)
    page = ok(client.pools.list_sync(), "pools.list")
    assert str(pool.id) in ids(page.items)
    with_machines = ok(client.pools.list_sync(include=["machines"]), "pools.list(include=machines)")
    assert str(pool.id) in ids(with_machines.items)
    got = ok(client.pools.get_sync(str(pool.id)), "pools.get")
    assert got.id == pool.id and got.name == pool.name


def test_add_machines_then_get_with_machines(client) -> None:
    pool = new_pool(client)
    first, second = new_machine(client), new_machine(client)
    added = ok(
        client.pools.add_machines_sync(str(pool.id), MachinePoolAssignment(machine_ids=[first.id, second.id])),
        "pools.add_machines",
    )
    assert added.id == pool.id
    assert sorted(ids(val(added.machines) or [])) == sorted([str(first.id), str(second.id)])

    got = ok(client.pools.get_sync(str(pool.id), include_machines=True), "pools.get(include_machines=True)")
    assert sorted(ids(val(got.machines) or [])) == sorted([str(first.id), str(second.id)])
    assert val(got.machine_count) == 2
    assert str(pool.id) in ids(ok(client.machines.get_pools_sync(str(first.id))))


def test_remove_machines_takes_a_json_body_on_delete(client) -> None:
    pool = new_pool(client)
    keep, drop = new_machine(client), new_machine(client)
    ok(client.pools.add_machines_sync(str(pool.id), MachinePoolAssignment(machine_ids=[keep.id, drop.id])))

    removed = client.pools.remove_machines_sync(str(pool.id), MachinePoolAssignment(machine_ids=[drop.id]))
    assert removed.error is None, removed.error
    assert removed.data == {"success": True}

    got = ok(client.pools.get_sync(str(pool.id), include_machines=True))
    assert ids(val(got.machines) or []) == [str(keep.id)]
    assert val(got.machine_count) == 1
    assert ok(client.machines.get_pools_sync(str(drop.id))) == []
    ok(client.machines.get_sync(str(drop.id)), "a machine removed from a pool still exists")


def test_update_changes_fields(client) -> None:
    pool = new_pool(client, description="before")
    updated = ok(
        client.pools.update_sync(str(pool.id), PoolUpdate(name="renamed-" + pool.name, description="after")),
        "pools.update",
    )
    assert updated.id == pool.id
    assert updated.name == "renamed-" + pool.name
    assert updated.description == "after"
    assert ok(client.pools.get_sync(str(pool.id))).description == "after"


def test_delete_keeps_the_machines(client) -> None:
    pool = new_pool(client)
    machine = new_machine(client)
    ok(client.pools.add_machines_sync(str(pool.id), MachinePoolAssignment(machine_ids=[machine.id])))

    deleted = client.pools.delete_sync(str(pool.id))
    assert deleted.error is None, deleted.error
    assert deleted.data == {"success": True}

    expect_status(client.pools.get_sync(str(pool.id)), 404, what="pools.get after delete")
    ok(client.machines.get_sync(str(machine.id)), "machines survive the deletion of their pool")
    assert ok(client.machines.get_pools_sync(str(machine.id))) == []


def test_add_unknown_machine_is_refused(client) -> None:
    pool = new_pool(client)
    response = client.pools.add_machines_sync(str(pool.id), MachinePoolAssignment(machine_ids=[str(uuid.uuid4())]))
    expect_status(response, 404, 400, what="pools.add_machines with an unknown machine")
