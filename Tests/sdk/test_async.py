"""The SDK's async methods (`await client.x.y(...)`), driven with `asyncio.run`.

2.2.69 has no `async with CyberdeskClient(...)`, and `close()` only closes the sync
transport. Each `CyberdeskClient` keeps one `httpx.AsyncClient`, which is bound to the
event loop that first uses it, so one client is used inside a single `asyncio.run`.
"""

from __future__ import annotations

import asyncio
import base64

from cyberdesk import FileInput, RunCreate, RunStatus, RunUpdate, WorkflowCreate
from cyberdesk.client import PoolCreate, RunRetry

from sdk_helpers import expect_status, ids, make_client, ok, trajectory_create, unique


def test_async_methods(base_url: str, admin_key: str) -> None:
    async def scenario() -> None:
        sdk = make_client(admin_key, base_url)
        try:
            name = unique("async-workflow")
            workflow = ok(await sdk.workflows.create(WorkflowCreate(main_prompt="async {x}", name=name)), "create")
            ok(await sdk.trajectories.create(trajectory_create(workflow.id, is_approved=True)), "trajectory")

            # Several requests in flight at once on one client.
            fetched = await asyncio.gather(*(sdk.workflows.get(str(workflow.id)) for _ in range(5)))
            assert all(ok(r, "concurrent workflows.get").id == workflow.id for r in fetched)

            run = ok(
                await sdk.runs.create(
                    RunCreate(
                        workflow_id=workflow.id,
                        input_values={"x": "1"},
                        file_inputs=[FileInput(filename="a.txt", content=base64.b64encode(b"async").decode())],
                    )
                ),
                "runs.create",
            )
            assert run.status == RunStatus.SCHEDULING
            got = ok(await sdk.runs.get(str(run.id)), "runs.get")
            assert got.id == run.id
            listed = ok(await sdk.runs.list(workflow_id=str(workflow.id)), "runs.list")
            assert ids(listed.items) == [str(run.id)] and listed.total == 1

            attachments = ok(await sdk.run_attachments.list(run_id=str(run.id)), "run_attachments.list")
            assert [a.filename for a in attachments.items] == ["a.txt"]
            data = ok(await sdk.run_attachments.download(str(attachments.items[0].id)), "download")
            assert data == b"async"

            cancelled = ok(await sdk.runs.update(str(run.id), RunUpdate(status=RunStatus.CANCELLED)), "cancel")
            assert cancelled.status == RunStatus.CANCELLED
            retried = ok(await sdk.runs.retry(str(run.id), RunRetry()), "retry")
            assert retried.id == run.id and retried.status == RunStatus.SCHEDULING

            pool = ok(await sdk.pools.create(PoolCreate(name=unique("async-pool"))), "pools.create")
            ok(await sdk.pools.delete(str(pool.id)), "pools.delete")
            expect_status(await sdk.pools.get(str(pool.id)), 404, what="pools.get after delete")

            page = ok(await sdk.workflows.list(search=name), "workflows.list")
            assert ids(page.items) == [str(workflow.id)]
            assert ok(await sdk.workflows.delete(str(workflow.id)), "workflows.delete") == {"success": True}
            expect_status(await sdk.runs.get(str(run.id)), 404, what="run of a deleted workflow")
        finally:
            # The SDK exposes no async close; close the async transport it created.
            await sdk._client.get_async_httpx_client().aclose()
            sdk.close()

    asyncio.run(scenario())


def test_async_errors_are_reported_not_raised(base_url: str) -> None:
    async def scenario() -> None:
        sdk = make_client("cd_wrong_key", base_url)
        try:
            expect_status(await sdk.workflows.list(), 401, what="async workflows.list with a bad key")
            expect_status(await sdk.runs.list(), 401, what="async runs.list with a bad key")
        finally:
            await sdk._client.get_async_httpx_client().aclose()
            sdk.close()

    asyncio.run(scenario())
