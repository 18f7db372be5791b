"""The server process itself: health, the admin key file, `keys` subcommands, restarts."""

from __future__ import annotations

import stat

import httpx
import pytest
from cyberdesk import WorkflowCreate

from sdk_helpers import REQUEST_TIMEOUT, make_client, ok, unique
from server_process import RunningServer, start_server


@pytest.mark.parametrize("path", ["/v1/health", "/health"])
def test_health_needs_no_key(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


def test_admin_key_file_is_private_and_holds_one_key(server: RunningServer) -> None:
    path = server.admin_key_path
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o600, f"{path} has mode {oct(mode)}, expected 0o600"
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n"), "the key file must end with a newline"
    assert text == server.admin_key + "\n", "the key file must hold exactly the key and a newline"


def test_admin_key_works_with_the_sdk(client) -> None:
    page = ok(client.workflows.list_sync(), "workflows.list with the admin key")
    assert page.total >= 0


def test_keys_create_makes_a_working_key_for_a_new_empty_org(server: RunningServer, client_for_key) -> None:
    key = server.create_api_key(unique("cli-org"), name="cli-test")
    assert key != server.admin_key
    sdk = client_for_key(key)
    page = ok(sdk.workflows.list_sync(), "workflows.list for a new organization")
    assert page.total == 0 and page.items == [], "a new organization starts empty"


def test_two_keys_of_the_same_org_share_its_data(server: RunningServer, client_for_key) -> None:
    org = unique("shared-org")
    first = client_for_key(server.create_api_key(org, name="first"))
    second = client_for_key(server.create_api_key(org, name="second"))
    created = ok(first.workflows.create_sync(WorkflowCreate(main_prompt="shared", name=unique("wf"))))
    seen = ok(second.workflows.get_sync(str(created.id)), "the second key reads the first key's workflow")
    assert seen.id == created.id


def test_keys_list_succeeds_while_the_server_runs(server: RunningServer) -> None:
    result = server.cli("keys", "list", "--data-dir", str(server.data_dir))
    assert result.returncode == 0, f"keys list exited {result.returncode}: {result.stderr}"


def test_data_and_admin_key_survive_a_restart(tmp_path) -> None:
    """A second server on its own data dir: SIGTERM stops it; a restart keeps data and the key."""
    data_dir = tmp_path / "data"
    first = start_server(data_dir, tmp_path, log_name="first-stderr.log")
    try:
        first.admin_key = first.read_admin_key()
        sdk = make_client(first.admin_key, first.url)
        name = unique("persisted")
        created = ok(sdk.workflows.create_sync(WorkflowCreate(main_prompt="persist me", name=name)))
        sdk.close()
    finally:
        exit_code = first.stop()
    assert exit_code is not None, "the server did not stop within 15 s of SIGTERM:\n" + first.stderr_tail()
    assert exit_code in (0, -15), f"unexpected exit code {exit_code} after SIGTERM:\n{first.stderr_tail()}"

    second = start_server(data_dir, tmp_path, log_name="second-stderr.log")
    try:
        key_after_restart = second.read_admin_key()
        assert key_after_restart == first.admin_key, "a restart must not replace the admin key"
        sdk = make_client(key_after_restart, second.url)
        got = ok(sdk.workflows.get_sync(str(created.id)), "workflows.get after a restart")
        assert got.name == name and got.main_prompt == "persist me"
        sdk.close()
        with httpx.Client(base_url=second.url, timeout=REQUEST_TIMEOUT) as raw:
            assert raw.get("/v1/health").status_code == 200
    finally:
        second.stop()

