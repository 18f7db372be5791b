"""Error semantics the SDK depends on: 401, 404, 422, idempotent replays, no redirects."""

from __future__ import annotations

import uuid

import httpx
import pytest
from cyberdesk import RunCreate, WorkflowCreate
from cyberdesk.client import RunBulkCreate
from openapi_client.cyberdesk_cloud_client.models import HTTPValidationError

from sdk_helpers import expect_status, ok, unique

# ----- 401 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not-a-real-key"},
        {"Authorization": "Bearer cd_" + uuid.uuid4().hex + uuid.uuid4().hex},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["missing", "empty", "garbage", "well-formed-unknown", "basic-scheme"],
)
def test_missing_or_bad_key_is_401_with_detail(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.get("/v1/workflows", headers=headers)
    assert response.status_code == 401, response.text
    body = response.json()
    assert isinstance(body, dict) and "detail" in body, body


def test_write_with_bad_key_is_401_and_creates_nothing(http: httpx.Client, client) -> None:
    name = unique("unauthorized")
    response = http.post(
        "/v1/workflows",
        json={"main_prompt": "nope", "name": name},
        headers={"Authorization": "Bearer wrong", "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 401, response.text
    page = ok(client.workflows.list_sync(search=name))
    assert page.total == 0


def test_sdk_reports_401_as_unexpected_status(client_for_key, workflow) -> None:
    bad = client_for_key("cd_definitely_not_a_key")
    expect_status(bad.workflows.list_sync(), 401, what="workflows.list")
    expect_status(bad.workflows.get_sync(str(workflow.id)), 401, what="workflows.get")
    expect_status(bad.runs.list_sync(), 401, what="runs.list")
    expect_status(bad.runs.create_sync(RunCreate(workflow_id=workflow.id)), 401, what="runs.create")
    expect_status(bad.workflows.delete_sync(str(workflow.id)), 401, what="workflows.delete")
    expect_status(bad.machines.list_sync(), 401, what="machines.list")


# ----- 404 ----------------------------------------------------------------------------


def test_unknown_ids_are_404(client) -> None:
    missing = str(uuid.uuid4())
    expect_status(client.workflows.get_sync(missing), 404, what="workflows.get")
    expect_status(client.runs.get_sync(missing), 404, what="runs.get")
    expect_status(client.machines.get_sync(missing), 404, what="machines.get")
    expect_status(client.pools.get_sync(missing), 404, what="pools.get")
    expect_status(client.trajectories.get_sync(missing), 404, what="trajectories.get")
    expect_status(client.run_attachments.get_sync(missing), 404, what="run_attachments.get")
    expect_status(client.workflows.delete_sync(missing), 404, what="workflows.delete")
    expect_status(client.runs.delete_sync(missing), 404, what="runs.delete")


def test_unknown_id_404_carries_detail(http: httpx.Client, admin_headers) -> None:
    response = http.get(f"/v1/workflows/{uuid.uuid4()}", headers=admin_headers)
    assert response.status_code == 404, response.text
    assert isinstance(response.json().get("detail"), str)


def test_run_for_unknown_workflow_is_refused(client) -> None:
    response = client.runs.create_sync(RunCreate(workflow_id=str(uuid.uuid4())))
    expect_status(response, 404, 400, what="runs.create with an unknown workflow_id")


# ----- 422 ----------------------------------------------------------------------------


def _assert_fastapi_422(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, f"expected 422, got {response.status_code}: {response.text}"
    body = response.json()
    assert isinstance(body.get("detail"), list) and body["detail"], body
    for item in body["detail"]:
        assert isinstance(item.get("loc"), list), item
        assert isinstance(item.get("msg"), str), item
        assert isinstance(item.get("type"), str), item
    assert any(field in item["loc"] for item in body["detail"]), f"no error names {field!r}: {body}"


@pytest.mark.parametrize(
    "body",
    [{"main_prompt": 5}, {"name": "no prompt"}, {"main_prompt": None}],
    ids=["wrong-type", "missing", "null"],
)
def test_malformed_workflow_body_is_fastapi_422(http: httpx.Client, admin_headers, body) -> None:
    response = http.post(
        "/v1/workflows", json=body, headers={**admin_headers, "Idempotency-Key": str(uuid.uuid4())}
    )
    _assert_fastapi_422(response, "main_prompt")


def test_body_that_is_not_json_is_422(http: httpx.Client, admin_headers) -> None:
    response = http.post(
        "/v1/workflows",
        content=b"{this is not json",
        headers={**admin_headers, "Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 422, response.text
    assert isinstance(response.json().get("detail"), list)


def test_malformed_query_is_422(http: httpx.Client, admin_headers) -> None:
    _assert_fastapi_422(http.get("/v1/workflows?limit=many", headers=admin_headers), "limit")


def test_sdk_puts_422_in_data_for_create(client) -> None:
    # The model does not type-check, so a wrong type reaches the server.
    response = client.workflows.create_sync(WorkflowCreate(main_prompt=5))
    assert response.error is None, f"a 422 must land in .data, got error {response.error!r}"
    assert isinstance(response.data, HTTPValidationError), response.data
    assert response.data.detail and response.data.detail[0].msg


def test_sdk_puts_422_in_error_for_runs_list_and_bulk(client, workflow) -> None:
    listed = client.runs.list_sync(limit="many")
    assert isinstance(listed.error, HTTPValidationError), f"runs.list: {listed.error!r} / {listed.data!r}"
    bulk = client.runs.bulk_create_sync(RunBulkCreate(workflow_id=workflow.id, count="many"))
    assert isinstance(bulk.error, HTTPValidationError), f"runs.bulk_create: {bulk.error!r} / {bulk.data!r}"


# ----- idempotency --------------------------------------------------------------------


def test_same_idempotency_key_replays_the_first_response(http: httpx.Client, admin_headers, client) -> None:
    name = unique("idempotent")
    headers = {**admin_headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"main_prompt": "Create me once", "name": name}
    first = http.post("/v1/workflows", json=body, headers=headers)
    second = http.post("/v1/workflows", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert second.status_code == 201, f"the replay must repeat the first status: {second.status_code} {second.text}"
    assert second.json() == first.json(), "the replay must return the first response body"
    page = ok(client.workflows.list_sync(search=name))
    assert page.total == 1, f"one workflow expected, found {page.total}"


def test_different_idempotency_keys_create_distinct_resources(http: httpx.Client, admin_headers, client) -> None:
    name = unique("not-deduplicated")
    body = {"main_prompt": "Same body twice", "name": name}
    first = http.post("/v1/workflows", json=body, headers={**admin_headers, "Idempotency-Key": str(uuid.uuid4())})
    second = http.post("/v1/workflows", json=body, headers={**admin_headers, "Idempotency-Key": str(uuid.uuid4())})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert ok(client.workflows.list_sync(search=name)).total == 2


def test_idempotency_keys_are_scoped_to_the_organization(
    http: httpx.Client, admin_headers, other_org_key, client, other_client
) -> None:
    key = str(uuid.uuid4())
    name = unique("scoped-key")
    body = {"main_prompt": "Per organization", "name": name}
    mine = http.post("/v1/workflows", json=body, headers={**admin_headers, "Idempotency-Key": key})
    theirs = http.post(
        "/v1/workflows", json=body, headers={"Authorization": f"Bearer {other_org_key}", "Idempotency-Key": key}
    )
    assert mine.status_code == theirs.status_code == 201, (mine.text, theirs.text)
    assert mine.json()["id"] != theirs.json()["id"], "another organization must not get a replay of my response"
    assert ok(other_client.workflows.list_sync(search=name)).total == 1
    assert ok(client.workflows.list_sync(search=name)).total == 1


def test_sdk_retry_with_a_reused_key_is_replayed(client_for_key, admin_key, client) -> None:
    """What the SDK does on a retry: the same Idempotency-Key again. Simulated with a fixed key."""
    fixed = str(uuid.uuid4())
    sdk = client_for_key(admin_key, idempotency_key_generator=lambda: fixed)
    name = unique("sdk-replay")
    first = ok(sdk.workflows.create_sync(WorkflowCreate(main_prompt="once", name=name)))
    second = ok(sdk.workflows.create_sync(WorkflowCreate(main_prompt="once", name=name)))
    assert second.id == first.id
    assert ok(client.workflows.list_sync(search=name)).total == 1


def test_sdk_writes_without_idempotency_still_work(client_for_key, admin_key) -> None:
    sdk = client_for_key(admin_key, idempotency_enabled=False)
    created = ok(sdk.workflows.create_sync(WorkflowCreate(main_prompt="no key", name=unique("no-idem"))))
    ok(sdk.workflows.delete_sync(str(created.id)))


# ----- transport ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/workflows", "/v1/runs", "/v1/machines", "/v1/pools"])
def test_list_paths_answer_directly_without_redirect(http: httpx.Client, admin_headers, path: str) -> None:
    response = http.get(path, headers=admin_headers)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.headers.get('location')}"
    body = response.json()
    assert {"items", "total", "skip", "limit"} <= body.keys(), body.keys()
    assert body["skip"] == 0 and body["limit"] == 100, "defaults are skip=0, limit=100"


def test_delete_is_204_with_empty_body(http: httpx.Client, admin_headers, workflow) -> None:
    response = http.delete(
        f"/v1/workflows/{workflow.id}", headers={**admin_headers, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
