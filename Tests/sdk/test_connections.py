"""`client.connections`: the wrapper offers list and create only."""

from __future__ import annotations

import uuid

from cyberdesk import ConnectionCreate, ConnectionStatus

from sdk_helpers import assert_aware, expect_status, ids, new_machine, ok, unique, val


def test_create_returns_the_connection(client, machine) -> None:
    websocket_id = unique("agent-conn")
    created = ok(
        client.connections.create_sync(
            ConnectionCreate(
                websocket_id=websocket_id,
                machine_id=machine.id,
                ip_address="10.0.0.7",
                user_agent="cyberdesk-agent/0.1",
            )
        ),
        "connections.create",
    )
    assert created.websocket_id == websocket_id
    assert str(created.machine_id) == str(machine.id)
    assert created.ip_address == "10.0.0.7"
    assert created.user_agent == "cyberdesk-agent/0.1"
    assert isinstance(created.status, ConnectionStatus)
    assert_aware(created.connected_at, "connected_at")
    assert_aware(created.last_ping, "last_ping")
    assert val(created.disconnected_at) is None


def test_list_filters_by_machine_and_status(client) -> None:
    machine, other_machine = new_machine(client), new_machine(client)
    mine = [
        ok(client.connections.create_sync(ConnectionCreate(websocket_id=unique("ws"), machine_id=machine.id)))
        for _ in range(2)
    ]
    ok(client.connections.create_sync(ConnectionCreate(websocket_id=unique("ws"), machine_id=other_machine.id)))

    page = ok(client.connections.list_sync(machine_id=str(machine.id)), "connections.list(machine_id)")
    assert sorted(ids(page.items)) == sorted(ids(mine)) and page.total == 2

    first = ok(client.connections.list_sync(skip=0, limit=1, machine_id=str(machine.id)))
    assert len(first.items) == 1 and first.total == 2 and first.limit == 1

    status = mine[0].status
    by_status = ok(client.connections.list_sync(machine_id=str(machine.id), status=status), "list(status)")
    assert all(c.status == status for c in by_status.items)
    assert str(mine[0].id) in ids(by_status.items)
    as_string = ok(client.connections.list_sync(machine_id=str(machine.id), status=status.value))
    assert sorted(ids(as_string.items)) == sorted(ids(by_status.items))


def test_connection_for_unknown_machine_is_refused(client) -> None:
    response = client.connections.create_sync(ConnectionCreate(websocket_id=unique("ws"), machine_id=uuid.uuid4()))
    expect_status(response, 404, 400, what="connection for an unknown machine")
