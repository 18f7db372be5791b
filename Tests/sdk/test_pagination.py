"""`skip`, `limit` and `total` on every paginated list, in a fresh organization so counts are exact."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from cyberdesk.client import RunBulkCreate

from sdk_helpers import ids, new_machine, new_pool, new_runnable_workflow, new_workflow, ok

COUNT = 5

# name -> (create one, list with skip/limit)
RESOURCES: dict[str, tuple[Callable[[Any], Any], Callable[..., Any]]] = {
    "workflows": (new_workflow, lambda sdk, **kw: sdk.workflows.list_sync(**kw)),
    "machines": (new_machine, lambda sdk, **kw: sdk.machines.list_sync(**kw)),
    "pools": (new_pool, lambda sdk, **kw: sdk.pools.list_sync(**kw)),
}


@pytest.mark.parametrize("resource", RESOURCES.keys())
def test_skip_limit_total(fresh_org_client, resource: str) -> None:
    create, list_page = RESOURCES[resource]
    made = {str(create(fresh_org_client).id) for _ in range(COUNT)}

    everything = ok(list_page(fresh_org_client), f"{resource}.list()")
    assert everything.total == COUNT
    assert everything.skip == 0 and everything.limit == 100, "defaults: skip=0, limit=100"
    assert set(ids(everything.items)) == made

    seen: list[str] = []
    for skip in range(0, COUNT, 2):
        page = ok(list_page(fresh_org_client, skip=skip, limit=2), f"{resource}.list(skip={skip}, limit=2)")
        assert page.total == COUNT, "total counts every match, not just this page"
        assert page.skip == skip and page.limit == 2
        assert len(page.items) == min(2, COUNT - skip)
        seen += ids(page.items)
    assert sorted(seen) == sorted(made), "pages must neither overlap nor leave gaps"

    beyond = ok(list_page(fresh_org_client, skip=COUNT + 3, limit=2))
    assert beyond.items == [] and beyond.total == COUNT


def test_runs_pagination_in_a_fresh_org(fresh_org_client) -> None:
    workflow = new_runnable_workflow(fresh_org_client)
    created = ok(fresh_org_client.runs.bulk_create_sync(RunBulkCreate(workflow_id=workflow.id, count=COUNT)))
    made = {str(r.id) for r in created.created_runs}
    page = ok(fresh_org_client.runs.list_sync(), "runs.list()")
    assert page.total == COUNT and set(ids(page.items)) == made
    first = ok(fresh_org_client.runs.list_sync(skip=0, limit=3))
    rest = ok(fresh_org_client.runs.list_sync(skip=3, limit=3))
    assert len(first.items) == 3 and len(rest.items) == 2
    assert first.total == rest.total == COUNT
    assert set(ids(first.items)) | set(ids(rest.items)) == made
