"""`client.runs`: create, get, list with filters, cancel, retry, delete, bulk, chain, sessions, secrets.

No agent connects during this suite, so runs stay `scheduling` until cancelled.
"""

from __future__ import annotations

import httpx
from cyberdesk import RunCreate, RunStatus, RunUpdate
from cyberdesk.client import RunBulkCreate, RunRetry, WorkflowChainCreate
from openapi_client.cyberdesk_cloud_client.models import ChainStep

from sdk_helpers import (
    assert_aware,
    contains_text,
    error_detail,
    expect_rejected,
    expect_status,
    ids,
    new_machine,
    new_pool,
    new_run,
    new_runnable_workflow,
    ok,
    plain,
    unique,
    val,
)

SECRET_STEPS = [
    {"func_name": "click", "args": [400, 300], "kwargs": {}},
    {"func_name": "type", "args": [], "kwargs": {"text": "{$password}"}},
    {"func_name": "key", "args": ["enter"], "kwargs": {}},
]


def cancel(client, run_id) -> object:
    return ok(client.runs.update_sync(str(run_id), RunUpdate(status=RunStatus.CANCELLED)), "runs.update(cancel)")


# ----- create / get -------------------------------------------------------------------


def test_create_returns_a_scheduling_run(client, workflow) -> None:
    run = ok(
        client.runs.create_sync(RunCreate(workflow_id=workflow.id, input_values={"patient_name": "Ada Lovelace"})),
        "runs.create",
    )
    assert run.workflow_id == workflow.id
    assert run.status == RunStatus.SCHEDULING
    assert val(run.machine_id) is None, "no machine is assigned while no agent is connected"
    assert plain(run.input_values) == {"patient_name": "Ada Lovelace"}
    assert run.is_priority is False
    assert not val(run.error)
    assert val(run.ended_at) is None
    assert_aware(run.created_at, "created_at")


def test_create_echoes_scheduling_options(client, workflow) -> None:
    first_pool, second_pool = new_pool(client), new_pool(client)
    run = new_run(
        client,
        workflow.id,
        pool_ids=[first_pool.id, second_pool.id],
        is_priority=True,
        session_alias="intake",
    )
    assert run.is_priority is True
    assert val(run.session_alias) == "intake"
    assert sorted(str(p) for p in val(run.pool_ids) or []) == sorted([str(first_pool.id), str(second_pool.id)])
    assert val(run.machine_id) is None


def test_get_returns_the_run_with_includes(client, workflow, machine) -> None:
    run = new_run(client, workflow.id, machine_id=machine.id, input_values={"patient_name": "Grace"})
    assert str(run.machine_id) == str(machine.id)
    got = ok(client.runs.get_sync(str(run.id)), "runs.get")
    assert got.id == run.id and got.workflow_id == workflow.id
    assert got.status == RunStatus.SCHEDULING
    assert plain(got.input_values) == {"patient_name": "Grace"}

    with_includes = ok(client.runs.get_sync(str(run.id), include=["workflow", "machine"]), "runs.get(include=...)")
    included = {(item.type_, str(item.id)) for item in val(with_includes.included) or []}
    assert ("workflow", str(workflow.id)) in included, included
    assert ("machine", str(machine.id)) in included, included


# ----- list ---------------------------------------------------------------------------


def test_list_filters(client) -> None:
    wf_a, wf_b = new_runnable_workflow(client), new_runnable_workflow(client)
    machine = new_machine(client)
    a_cancelled = new_run(client, wf_a.id)
    a_on_machine = new_run(client, wf_a.id, machine_id=machine.id)
    b_session_start = new_run(client, wf_b.id, start_session=True)
    b_in_session = new_run(client, wf_b.id, session_id=b_session_start.id)
    b_alone = new_run(client, wf_b.id)
    cancel(client, a_cancelled.id)

    by_workflow = ok(client.runs.list_sync(workflow_id=str(wf_a.id)), "runs.list(workflow_id)")
    assert sorted(ids(by_workflow.items)) == sorted([str(a_cancelled.id), str(a_on_machine.id)])
    assert by_workflow.total == 2

    cancelled = ok(client.runs.list_sync(workflow_id=str(wf_a.id), status=RunStatus.CANCELLED))
    assert ids(cancelled.items) == [str(a_cancelled.id)] and cancelled.total == 1
    scheduling = ok(client.runs.list_sync(workflow_id=str(wf_a.id), status=RunStatus.SCHEDULING))
    assert ids(scheduling.items) == [str(a_on_machine.id)]
    all_cancelled = ok(client.runs.list_sync(status=RunStatus.CANCELLED), "runs.list(status)")
    assert all(r.status == RunStatus.CANCELLED for r in all_cancelled.items)
    assert str(a_cancelled.id) in ids(all_cancelled.items)

    by_machine = ok(client.runs.list_sync(machine_id=str(machine.id)), "runs.list(machine_id)")
    assert ids(by_machine.items) == [str(a_on_machine.id)]

    by_session = ok(client.runs.list_sync(session_id=str(b_session_start.id)), "runs.list(session_id)")
    assert sorted(ids(by_session.items)) == sorted([str(b_session_start.id), str(b_in_session.id)])
    assert str(b_alone.id) not in ids(by_session.items)


def test_list_pagination(client, workflow) -> None:
    created = ok(client.runs.bulk_create_sync(RunBulkCreate(workflow_id=workflow.id, count=5))).created_runs
    everything = {str(r.id) for r in created}
    seen: list[str] = []
    for skip in (0, 2, 4):
        page = ok(client.runs.list_sync(skip=skip, limit=2, workflow_id=str(workflow.id)), f"runs.list(skip={skip})")
        assert page.total == 5
        assert len(page.items) == (2 if skip < 4 else 1)
        seen += ids(page.items)
    assert sorted(seen) == sorted(everything), "pages must not overlap or skip runs"
    beyond = ok(client.runs.list_sync(skip=10, limit=2, workflow_id=str(workflow.id)))
    assert beyond.items == [] and beyond.total == 5


def test_unassigned_runs_carry_a_null_machine_id_key(client, http: httpx.Client, admin_headers, workflow) -> None:
    """The SDK's strict run parsers need the `machine_id` key present (null) on every run."""
    run = new_run(client, workflow.id)
    listed = http.get("/v1/runs", params={"workflow_id": str(workflow.id)}, headers=admin_headers)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [item["id"] for item in items] == [str(run.id)]
    assert "machine_id" in items[0] and items[0]["machine_id"] is None, items[0]


# ----- cancel / retry / delete --------------------------------------------------------


def test_cancel_makes_the_run_terminal(client, workflow) -> None:
    run = new_run(client, workflow.id)
    cancelled = cancel(client, run.id)
    assert cancelled.id == run.id
    assert cancelled.status == RunStatus.CANCELLED
    assert ok(client.runs.get_sync(str(run.id))).status == RunStatus.CANCELLED

    back = client.runs.update_sync(str(run.id), RunUpdate(status=RunStatus.SCHEDULING))
    expect_status(back, 400, 409, what="changing the status of a terminal run")
    again = client.runs.update_sync(str(run.id), RunUpdate(status=RunStatus.RUNNING))
    expect_status(again, 400, 409, what="changing the status of a terminal run")
    assert ok(client.runs.get_sync(str(run.id))).status == RunStatus.CANCELLED


def test_retry_a_cancelled_run_reuses_its_id(client, workflow) -> None:
    run = new_run(client, workflow.id, input_values={"patient_name": "Retry Me"})
    cancel(client, run.id)
    retried = ok(client.runs.retry_sync(str(run.id), RunRetry()), "runs.retry")
    assert retried.id == run.id
    assert retried.status == RunStatus.SCHEDULING
    assert plain(retried.input_values) == {"patient_name": "Retry Me"}
    assert ok(client.runs.get_sync(str(run.id))).status == RunStatus.SCHEDULING


def test_retry_with_new_inputs(client, workflow) -> None:
    run = new_run(client, workflow.id, input_values={"patient_name": "Old"})
    cancel(client, run.id)
    retried = ok(client.runs.retry_sync(str(run.id), RunRetry(input_values={"patient_name": "New"})))
    assert plain(retried.input_values) == {"patient_name": "New"}


def test_retry_of_an_active_run_is_refused(client, workflow) -> None:
    run = new_run(client, workflow.id)
    expect_status(client.runs.retry_sync(str(run.id), RunRetry()), 400, 409, what="retry of a scheduling run")


def test_delete_removes_the_run(client, workflow) -> None:
    run = new_run(client, workflow.id)
    deleted = client.runs.delete_sync(str(run.id))
    assert deleted.error is None, deleted.error
    assert deleted.data == {"success": True}
    expect_status(client.runs.get_sync(str(run.id)), 404, what="runs.get after delete")
    assert str(run.id) not in ids(ok(client.runs.list_sync(workflow_id=str(workflow.id))).items)


# ----- bulk ---------------------------------------------------------------------------


def test_bulk_create(client, workflow) -> None:
    result = ok(
        client.runs.bulk_create_sync(
            RunBulkCreate(workflow_id=workflow.id, count=3, input_values={"patient_name": "Bulk"})
        ),
        "runs.bulk_create",
    )
    assert len(result.created_runs) == 3
    assert result.failed_count == 0
    assert not result.errors
    assert len({str(r.id) for r in result.created_runs}) == 3
    for run in result.created_runs:
        assert run.workflow_id == workflow.id
        assert run.status == RunStatus.SCHEDULING
        assert plain(run.input_values) == {"patient_name": "Bulk"}
    assert ok(client.runs.list_sync(workflow_id=str(workflow.id))).total == 3


def test_bulk_create_count_out_of_range_is_refused(client, workflow) -> None:
    for count in (0, 1001):
        response = client.runs.bulk_create_sync(RunBulkCreate(workflow_id=workflow.id, count=count))
        expect_rejected(response, 400, what=f"runs.bulk_create(count={count})")
    assert ok(client.runs.list_sync(workflow_id=str(workflow.id))).total == 0


# ----- chain and sessions -------------------------------------------------------------


def test_chain_creates_one_session_with_ref_inputs(client) -> None:
    first, second = new_runnable_workflow(client), new_runnable_workflow(client)
    chain = ok(
        client.runs.chain_sync(
            WorkflowChainCreate(
                steps=[
                    ChainStep(workflow_id=first.id, session_alias="step1", inputs={"patient_name": "Ada"}),
                    ChainStep(
                        workflow_id=second.id,
                        session_alias="step2",
                        inputs={"previous_result": {"$ref": "step1.outputs.result"}},
                    ),
                ],
                shared_inputs={"clinic": "North"},
            )
        ),
        "runs.chain",
    )
    assert len(chain.run_ids) == 2
    runs = [ok(client.runs.get_sync(str(run_id)), "runs.get of a chain step") for run_id in chain.run_ids]
    assert [r.workflow_id for r in runs] == [first.id, second.id]
    assert all(r.session_id == chain.session_id for r in runs), "all steps share the chain's session"
    assert [val(r.session_alias) for r in runs] == ["step1", "step2"]
    assert all(r.status == RunStatus.SCHEDULING for r in runs)
    in_session = ok(client.runs.list_sync(session_id=str(chain.session_id)))
    assert sorted(ids(in_session.items)) == sorted(str(i) for i in chain.run_ids)


def test_sessions(client, workflow) -> None:
    starter = new_run(client, workflow.id, start_session=True, session_alias="login")
    assert starter.session_id == starter.id, "start_session: the session id is the run's own id"
    assert val(starter.session_alias) == "login"

    follower = new_run(client, workflow.id, session_id=starter.id)
    assert follower.session_id == starter.id
    last = new_run(client, workflow.id, session_id=starter.id, release_session_after=True)
    assert last.session_id == starter.id
    assert val(last.release_session_after) is True

    in_session = ok(client.runs.list_sync(session_id=str(starter.id)))
    assert sorted(ids(in_session.items)) == sorted([str(starter.id), str(follower.id), str(last.id)])


# ----- secrets ------------------------------------------------------------------------


def test_sensitive_values_are_never_returned(client, http: httpx.Client, admin_headers) -> None:
    workflow = new_runnable_workflow(client, steps=SECRET_STEPS)
    password = "pw-" + unique("hunter2")
    pin = "pin-" + unique("0000")
    run = new_run(
        client,
        workflow.id,
        sensitive_input_values={"password": password, "badge": {"pin": pin}},
        input_values={"patient_name": "Visible"},
    )
    aliases = plain(run.sensitive_input_aliases) or {}
    assert set(aliases) == {"password", "badge"}
    assert isinstance(aliases["password"], str) and aliases["password"] not in (password, "")

    for secret in (password, pin):
        assert not contains_text(run, secret), "runs.create leaked a secret"
        assert not contains_text(ok(client.runs.get_sync(str(run.id))), secret), "runs.get leaked a secret"
        listed = ok(client.runs.list_sync(workflow_id=str(workflow.id)))
        assert not contains_text(listed, secret), "runs.list leaked a secret"
        raw = http.get(f"/v1/runs/{run.id}", headers=admin_headers)
        assert secret not in raw.text, "the raw run JSON leaked a secret"


def test_missing_sensitive_value_fails_run_creation(client) -> None:
    workflow = new_runnable_workflow(client, steps=SECRET_STEPS)
    response = client.runs.create_sync(RunCreate(workflow_id=workflow.id, input_values={"password": "not secret"}))
    error = expect_status(response, 400, what="run without the {$password} it types")
    assert "password" in error_detail(error)
    assert ok(client.runs.list_sync(workflow_id=str(workflow.id))).total == 0, "a refused run must not exist"


def test_secret_of_a_retry_stays_hidden(client) -> None:
    workflow = new_runnable_workflow(client, steps=SECRET_STEPS)
    first, second = "first-" + unique("pw"), "second-" + unique("pw")
    run = new_run(client, workflow.id, sensitive_input_values={"password": first})
    cancel(client, run.id)
    retried = ok(client.runs.retry_sync(str(run.id), RunRetry(sensitive_input_values={"password": second})))
    assert set(plain(retried.sensitive_input_aliases) or {}) == {"password"}
    assert not contains_text(retried, first) and not contains_text(retried, second)
