"""Fixtures: one real `cyberdesk-server` per test session, SDK clients for it.

The server runs on an ephemeral port with a fresh data directory under pytest's temp
directory. Its stderr goes to `<pytest basetemp>/server0/server-stderr.log` (kept after
the run for inspection); the tail of that file is attached to every failing test's report.
"""

from __future__ import annotations

import os
import uuid
from typing import Callable, Iterator

import httpx
import pytest
from cyberdesk import CyberdeskClient

from sdk_helpers import REQUEST_TIMEOUT, make_client, new_machine, new_runnable_workflow
from server_process import RunningServer, ServerStartError, server_binary, start_server

SERVER_KEY = pytest.StashKey[RunningServer]()


# ----- the server ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    binary = server_binary()
    if not binary.is_file():
        pytest.exit(
            f"cyberdesk-server binary not found at {binary}. Build it first "
            "(swift build --product cyberdesk-server) or set CYBERDESK_SERVER_BIN.",
            returncode=1,
        )
    root = tmp_path_factory.mktemp("server")
    try:
        running = start_server(root / "data", root)
    except ServerStartError as error:
        pytest.exit(str(error), returncode=1)
    request.config.stash[SERVER_KEY] = running
    try:
        running.admin_key = running.read_admin_key()
    except ServerStartError as error:
        running.stop()
        pytest.exit(str(error), returncode=1)
    yield running
    exit_code = running.stop()
    if exit_code is None:
        pytest.fail(
            "cyberdesk-server did not stop within 15 s of SIGTERM (it was killed)\n" + running.stderr_tail(),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _server_still_running(request: pytest.FixtureRequest) -> None:
    """Fails fast, with the server's stderr, if the shared server has died."""
    running = request.config.stash.get(SERVER_KEY, None)
    if running is not None and not running.is_running():
        pytest.fail(running.describe_failure("cyberdesk-server is no longer running"), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed:
        running = item.config.stash.get(SERVER_KEY, None)
        if running is not None:
            report.sections.append(
                (f"cyberdesk-server stderr, last lines ({running.stderr_path})", running.stderr_tail(60))
            )
    return report


@pytest.fixture(scope="session")
def base_url(server: RunningServer) -> str:
    return server.url


@pytest.fixture(scope="session")
def admin_key(server: RunningServer) -> str:
    return server.admin_key


# ----- clients ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def client(base_url: str, admin_key: str) -> Iterator[CyberdeskClient]:
    """The SDK client of the organization created on first start (admin key)."""
    sdk = make_client(admin_key, base_url)
    yield sdk
    sdk.close()


@pytest.fixture(scope="session")
def client_for_key(base_url: str) -> Iterator[Callable[[str], CyberdeskClient]]:
    """Builds SDK clients for arbitrary keys and closes them at the end of the session."""
    made: list[CyberdeskClient] = []

    def build(api_key: str, **kwargs) -> CyberdeskClient:
        sdk = make_client(api_key, base_url, **kwargs)
        made.append(sdk)
        return sdk

    yield build
    for sdk in made:
        sdk.close()


@pytest.fixture(scope="session")
def other_org_key(server: RunningServer) -> str:
    """An API key of a second organization (created with `keys create`)."""
    return server.create_api_key(f"sdk-other-org-{uuid.uuid4().hex[:8]}", name="sdk-tests")


@pytest.fixture(scope="session")
def other_client(other_org_key: str, client_for_key) -> CyberdeskClient:
    return client_for_key(other_org_key)


@pytest.fixture
def fresh_org_client(server: RunningServer, client_for_key) -> CyberdeskClient:
    """A client of a brand-new, empty organization: for exact counts and pagination."""
    key = server.create_api_key(f"sdk-fresh-{uuid.uuid4().hex[:10]}")
    return client_for_key(key)


@pytest.fixture(scope="session")
def http(base_url: str) -> Iterator[httpx.Client]:
    """A plain HTTP client without credentials, for raw wire checks."""
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT, follow_redirects=False) as raw:
        yield raw


@pytest.fixture(scope="session")
def admin_headers(admin_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_key}"}


# ----- common resources ---------------------------------------------------------------


@pytest.fixture
def workflow(client: CyberdeskClient):
    """A new workflow (with an approved trajectory) in the admin organization."""
    return new_runnable_workflow(client)


@pytest.fixture
def machine(client: CyberdeskClient):
    """A new machine in the admin organization (no agent behind it)."""
    return new_machine(client)


def pytest_report_header(config: pytest.Config) -> list[str]:
    source = "CYBERDESK_SERVER_BIN" if os.environ.get("CYBERDESK_SERVER_BIN") else "default"
    return [f"cyberdesk-server binary ({source}): {server_binary()}"]
