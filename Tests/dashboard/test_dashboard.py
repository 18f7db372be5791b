"""The dashboard in a real browser (DASHBOARD.md): headless Chromium against a real server
and a real agent on Xvfb. Each test checks what a person would see."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid

import httpx
import pytest
from cyberdesk import CyberdeskClient
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import screenshot, sign_in, wait_for
from sdk_helpers import make_client

FINAL = {"success", "task_failed", "error", "cancelled"}


def by_testid(driver, name):
    return driver.find_element(By.CSS_SELECTOR, f"[data-testid={name}]")


def all_by_testid(driver, name):
    return driver.find_elements(By.CSS_SELECTOR, f"[data-testid={name}]")


def text_of(driver, name) -> str:
    """The text of the first element with the test id, read in one script (a page that is
    being replaced leaves no stale element behind); '' when there is none."""
    return driver.execute_script(
        "const e = document.querySelector(`[data-testid=${arguments[0]}]`); return e ? e.innerText.trim() : ''",
        name)


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def workflow_with_trajectory(api: httpx.Client, steps, *, approved=True, name=None, **fields) -> tuple[dict, dict]:
    workflow = api.post("/v1/workflows", json={"name": name or unique("Replay"), "main_prompt": "Replay the steps",
                                               **fields})
    assert workflow.status_code == 201, workflow.text
    workflow = workflow.json()
    trajectory = api.post("/v1/trajectories", json={
        "workflow_id": workflow["id"], "trajectory_data": steps, "dimensions": {"width": 1280, "height": 800},
        "is_approved": approved})
    assert trajectory.status_code in (200, 201), trajectory.text
    return workflow, trajectory.json()


def wait_for_run(api: httpx.Client, run_id: str, timeout: float = 90) -> dict:
    return wait_for(lambda: (lambda r: r if r["status"] in FINAL else None)(api.get(f"/v1/runs/{run_id}").json()),
                    timeout, f"run {run_id} to finish")


def start_run_from_page(driver, dashboard_url, workflow_id, machine_id, inputs=None) -> str:
    driver.get(f"{dashboard_url}/workflows/{workflow_id}")
    Select(by_testid(driver, "run-machine")).select_by_value(machine_id)
    if inputs is not None:
        by_testid(driver, "run-inputs").send_keys(json.dumps(inputs))
    by_testid(driver, "start-run").click()
    match = wait_for(lambda: re.search(r"/runs/([0-9a-f-]{36})$", driver.current_url), 20, "the run page")
    return match.group(1)


def run_status(driver) -> str:
    """The run page's status, read in one script: the live part may be replaced between a
    lookup and a read."""
    return driver.execute_script(
        "const e = document.querySelector('[data-testid=run-status]'); return e ? e.textContent.trim() : ''")


# ----- sign-in -------------------------------------------------------------------------


def test_sign_in_with_a_wrong_key_shows_a_message_and_the_right_key_opens_the_dashboard(
        browser, dashboard_url, server):
    browser.delete_all_cookies()
    browser.get(dashboard_url + "/")
    by_testid(browser, "api-key").send_keys("cdk_not-a-real-key")
    by_testid(browser, "sign-in").click()
    message = wait_for(lambda: text_of(browser, "sign-in-error"), 10, "the sign-in error")
    assert "not valid" in message
    assert not all_by_testid(browser, "sign-out")
    # The wrong key answered 401, which Chromium logs; that one line is expected.
    browser.get_log("browser")
    screenshot(browser, "sign-in-error")

    sign_in(browser, dashboard_url, server.admin_key)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Overview"
    cookie = browser.get_cookie("cyberdesk_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert server.admin_key not in cookie["value"]
    assert server.admin_key not in browser.page_source
    screenshot(browser, "overview")


def test_signing_out_ends_the_session(browser, dashboard_url, server):
    sign_in(browser, dashboard_url, server.admin_key)
    old = browser.get_cookie("cyberdesk_session")["value"]
    by_testid(browser, "sign-out").click()
    wait_for(lambda: all_by_testid(browser, "api-key"), 10, "the sign-in form")
    # The old cookie no longer opens anything.
    answer = httpx.get(dashboard_url + "/machines", cookies={"cyberdesk_session": old}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/?next=")


def test_revoking_the_key_ends_its_sessions_at_once(browser, dashboard_url, server):
    key = server.create_api_key("default", name="short-lived")
    sign_in(browser, dashboard_url, key)
    cookie = browser.get_cookie("cyberdesk_session")["value"]
    assert httpx.get(dashboard_url + "/machines", cookies={"cyberdesk_session": cookie}).status_code == 200
    result = server.cli("keys", "revoke", "--data-dir", str(server.data_dir), key[:10])
    assert result.returncode == 0, result.stderr
    answer = httpx.get(dashboard_url + "/machines", cookies={"cyberdesk_session": cookie}, follow_redirects=False)
    assert answer.status_code == 303
    sign_in(browser, dashboard_url, server.admin_key)


# ----- machines --------------------------------------------------------------------------


def test_the_joined_machine_shows_connected_and_its_live_screen_decodes_and_refreshes(
        signed_in, dashboard_url, machine):
    driver = signed_in
    driver.get(dashboard_url + "/machines")
    rows = [row for row in all_by_testid(driver, "machine-row") if "dash-desktop" in row.text]
    assert rows and "connected" in rows[0].text
    screenshot(driver, "machines")

    driver.get(f"{dashboard_url}/machines/{machine['id']}")
    image = by_testid(driver, "machine-screen")
    wait_for(lambda: driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image),
             30, "the live screen to decode")
    assert driver.execute_script("return arguments[0].naturalWidth", image) == 1280
    assert driver.execute_script("return arguments[0].naturalHeight", image) == 800
    first = wait_for(lambda: int(image.get_attribute("data-frames") or 0), 30, "a refreshed frame")
    wait_for(lambda: int(image.get_attribute("data-frames") or 0) >= first + 2, 30, "two more frames")
    screenshot(driver, "machine")


def test_the_live_screen_stops_while_the_page_is_hidden(signed_in, dashboard_url, machine):
    driver = signed_in
    driver.get(f"{dashboard_url}/machines/{machine['id']}")
    image = by_testid(driver, "machine-screen")
    wait_for(lambda: int(image.get_attribute("data-frames") or 0) >= 1, 30, "a refreshed frame")
    page = driver.current_window_handle
    # A tab opened by the page hides it; the new tab reads the machine page through `opener`
    # without bringing it back to the front.
    driver.execute_script("window.open(arguments[0], '_blank')", dashboard_url + "/runs")
    other = next(handle for handle in driver.window_handles if handle != page)
    driver.switch_to.window(other)
    try:
        frames = "return Number(opener.document.querySelector('[data-testid=machine-screen]').dataset.frames || 0)"
        state = wait_for(lambda: driver.execute_script("return opener.document.visibilityState") == "hidden",
                         5, "the machine page to be hidden", interval=0.2) and "hidden"
        before = driver.execute_script(frames)
        time.sleep(3)  # an absence needs a window of time: three refresh periods
        assert driver.execute_script(frames) <= before + 1
    finally:
        driver.close()
        driver.switch_to.window(page)
    # Visible again: the frames resume.
    again = int(image.get_attribute("data-frames") or 0)
    wait_for(lambda: int(image.get_attribute("data-frames") or 0) > again, 30, "frames after the page shows again")


# ----- workflows and runs ---------------------------------------------------------------------


def test_a_workflow_created_through_the_form_is_visible_to_the_sdk(signed_in, dashboard_url, server):
    driver = signed_in
    driver.get(dashboard_url + "/workflows/new")
    name = unique("Intake form")
    by_testid(driver, "workflow-name").send_keys(name)
    by_testid(driver, "workflow-prompt").send_keys("Open the intake form for {patient} and fill it in")
    driver.find_element(By.ID, "workflow-input-schema").send_keys(
        json.dumps({"type": "object", "properties": {"patient": {"type": "string"}}}))
    by_testid(driver, "save-workflow").click()
    match = wait_for(lambda: re.search(r"/workflows/([0-9a-f-]{36})$", driver.current_url), 20, "the workflow page")
    workflow_id = match.group(1)
    assert by_testid(driver, "workflow-title").text == name

    client: CyberdeskClient = make_client(server.admin_key, server.url)
    fetched = client.workflows.get_sync(workflow_id)
    assert fetched.data is not None, fetched.error
    assert fetched.data.name == name
    assert "{patient}" in fetched.data.main_prompt
    screenshot(driver, "workflow")


def test_a_workflow_form_error_is_shown_on_its_field(signed_in, dashboard_url):
    driver = signed_in
    driver.get(dashboard_url + "/workflows/new")
    by_testid(driver, "workflow-name").send_keys(unique("Bad schema"))
    by_testid(driver, "workflow-prompt").send_keys("Do it")
    driver.find_element(By.ID, "workflow-input-schema").send_keys("{not json")
    by_testid(driver, "save-workflow").click()
    error = wait_for(lambda: driver.find_elements(By.ID, "workflow-input-schema-error"), 10, "the field's error")[0]
    assert error.text
    assert driver.find_element(By.ID, "workflow-input-schema").get_attribute("aria-invalid") == "true"
    # The posted values are kept.
    assert driver.find_element(By.ID, "workflow-input-schema").get_attribute("value") == "{not json"
    # The refused form answered 422, which Chromium logs.
    driver.get_log("browser")


def test_a_run_started_from_the_workflow_page_reaches_success_live_with_output_and_screenshot(
        signed_in, dashboard_url, api, machine):
    driver = signed_in
    workflow, _ = workflow_with_trajectory(api, [
        {"func_name": "wait", "args": [1.0]},
        {"func_name": "screenshot"},
        {"func_name": "set_output", "kwargs": {"key": "patient", "value": "{patient}"}},
    ], name=unique("Visit note"), input_schema=json.dumps(
        {"type": "object", "required": ["patient"], "properties": {"patient": {"type": "string"}}}))
    run_id = start_run_from_page(driver, dashboard_url, workflow["id"], machine["id"], {"patient": "Ada Lovelace"})
    driver.execute_script("window.__sameDocument = 'yes'")
    assert run_status(driver) in {"scheduling", "running"}
    wait_for(lambda: run_status(driver) == "success", 90, "the run page to show success")
    # No reload happened: the marker set on the page is still there.
    assert driver.execute_script("return window.__sameDocument") == "yes"
    assert json.loads(text_of(driver, "run-output")) == {"patient": "Ada Lovelace"}
    # The live part may be replaced once more, so the image is looked up afresh each time.
    decoded = """
        const image = document.querySelector('[data-testid=run-image]');
        if (!image) return 0;
        image.scrollIntoView();
        return image.complete ? image.naturalWidth : 0;"""
    assert wait_for(lambda: driver.execute_script(decoded), 20, "the run's screenshot to decode") == 1280
    screenshot(driver, "run")

    driver.get(dashboard_url + f"/runs?workflow_id={workflow['id']}&status=success")
    rows = all_by_testid(driver, "run-row")
    assert len(rows) == 1 and "success" in rows[0].text
    screenshot(driver, "runs")
    driver.get(dashboard_url + f"/runs?workflow_id={workflow['id']}&status=error")
    assert not all_by_testid(driver, "run-row")
    assert "No run matches these filters" in driver.find_element(By.TAG_NAME, "main").text

    # Retry from the finished run's page: the retried run runs again and succeeds.
    first_end = api.get(f"/v1/runs/{run_id}").json()["ended_at"]
    driver.get(f"{dashboard_url}/runs/{run_id}")
    driver.execute_script("window.__beforeRetry = 'yes'")
    by_testid(driver, "retry-run").click()
    wait_for(lambda: driver.execute_script("return window.__beforeRetry") is None, 20, "the page after the retry")
    wait_for(lambda: text_of(driver, "run-status") == "success", 90, "the retried run to succeed")
    assert api.get(f"/v1/runs/{run_id}").json()["ended_at"] > first_end
    assert json.loads(text_of(driver, "run-output")) == {"patient": "Ada Lovelace"}


def test_cancel_from_the_run_page_reaches_the_machine(signed_in, dashboard_url, api, machine, tmp_path):
    driver = signed_in
    marker = tmp_path / "after-the-wait"
    workflow, _ = workflow_with_trajectory(api, [
        {"func_name": "wait", "args": [30.0]},
        {"func_name": "execute_terminal_command", "kwargs": {"command": f"touch {marker}"}},
    ], name=unique("Long wait"))
    run_id = start_run_from_page(driver, dashboard_url, workflow["id"], machine["id"])
    wait_for(lambda: run_status(driver) == "running", 60, "the run to start on the machine")
    by_testid(driver, "cancel-run").click()
    wait_for(lambda: run_status(driver) == "cancelled", 20, "the run page to show cancelled")
    # The machine stopped the run: it is free again long before the 30 s wait would end, and
    # the step after the wait never ran.
    started = time.monotonic()
    quick, _ = workflow_with_trajectory(api, [{"func_name": "wait", "args": [0.1]}], name=unique("Quick"))
    run = api.post("/v1/runs", json={"workflow_id": quick["id"], "machine_id": machine["id"]}).json()
    assert wait_for_run(api, run["id"], 25)["status"] == "success"
    assert time.monotonic() - started < 25
    assert not marker.exists()


def test_approving_a_trajectory_in_the_browser_makes_the_next_run_replay_it(signed_in, dashboard_url, api, machine):
    driver = signed_in
    workflow, trajectory = workflow_with_trajectory(api, [
        {"func_name": "wait", "args": [0.2]},
        {"func_name": "set_output", "kwargs": {"key": "replayed", "value": "yes"}},
    ], approved=False, name=unique("Needs approval"))
    before = api.post("/v1/runs", json={"workflow_id": workflow["id"], "machine_id": machine["id"]}).json()
    before = wait_for_run(api, before["id"])
    assert (before.get("output_data") or {}).get("replayed") != "yes"

    driver.get(f"{dashboard_url}/trajectories/{trajectory['id']}")
    steps = all_by_testid(driver, "trajectory-step")
    assert [step.text.split("\n")[0] for step in steps] == ["1. wait", "2. set_output"]
    screenshot(driver, "trajectory")
    by_testid(driver, "approve-trajectory").click()
    wait_for(lambda: text_of(driver, "trajectory-approved") == "approved", 10, "the approved badge")
    assert api.get(f"/v1/trajectories/{trajectory['id']}").json()["is_approved"] is True

    run_id = start_run_from_page(driver, dashboard_url, workflow["id"], machine["id"])
    wait_for(lambda: run_status(driver) in FINAL, 60, "the run to finish")
    assert run_status(driver) == "success"
    assert json.loads(text_of(driver, "run-output")) == {"replayed": "yes"}


def tiny_png(width: int, height: int) -> bytes:
    """An RGB PNG of a red-to-blue gradient, made here so the test needs no image library."""
    import struct
    import zlib

    rows = b"".join(b"\x00" + b"".join(bytes((255 * x // width, 40, 255 * y // height)) for x in range(width))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_a_trajectory_shows_its_steps_in_order_with_their_checkpoint_crops(signed_in, dashboard_url, api):
    import base64

    driver = signed_in
    crop = base64.b64encode(tiny_png(48, 24)).decode()
    _, trajectory = workflow_with_trajectory(api, [
        {"func_name": "click", "args": [100, 120],
         "checkpoint": {"region": [76, 108, 48, 24], "png": crop, "threshold": 0.05, "timeout": 5}},
        {"func_name": "type", "args": ["hello"]},
    ], approved=False, name=unique("With checkpoint"))
    driver.get(f"{dashboard_url}/trajectories/{trajectory['id']}")
    steps = all_by_testid(driver, "trajectory-step")
    assert [step.text.split("\n")[0] for step in steps] == ["1. click", "2. type"]
    size = wait_for(lambda: driver.execute_script("""
        const image = document.querySelector('[data-testid=trajectory-step] img');
        return image && image.complete && image.naturalWidth ? [image.naturalWidth, image.naturalHeight] : null;"""),
        10, "the checkpoint crop to decode")
    assert size == [48, 24]
    assert not steps[1].find_elements(By.TAG_NAME, "img")


# ----- security --------------------------------------------------------------------------------


def test_a_name_containing_html_is_shown_as_text(signed_in, dashboard_url, api):
    driver = signed_in
    name = "<b>bold</b><img src=x onerror=window.__pwned=1>"
    workflow = api.post("/v1/workflows", json={"name": name, "main_prompt": "<script>window.__pwned=2</script>"})
    assert workflow.status_code == 201
    workflow_id = workflow.json()["id"]
    driver.get(f"{dashboard_url}/workflows/{workflow_id}")
    title = by_testid(driver, "workflow-title")
    assert title.text == name
    assert not title.find_elements(By.TAG_NAME, "b") and not title.find_elements(By.TAG_NAME, "img")
    assert driver.find_element(By.ID, "workflow-prompt").get_attribute("value") == "<script>window.__pwned=2</script>"
    assert driver.execute_script("return window.__pwned") is None
    driver.get(f"{dashboard_url}/workflows?search=bold")
    assert name in driver.find_element(By.TAG_NAME, "main").text
    assert driver.execute_script("return window.__pwned") is None


def test_a_cross_site_post_with_the_cookie_but_without_the_token_is_refused_and_changes_nothing(
        signed_in, dashboard_url, api):
    driver = signed_in
    cookie = {"cyberdesk_session": driver.get_cookie("cyberdesk_session")["value"]}
    count = api.get("/v1/workflows").json()["total"]
    form = {"name": "Forged", "main_prompt": "forged"}
    for origin in ("http://evil.example", dashboard_url):
        answer = httpx.post(dashboard_url + "/workflows", data=form, cookies=cookie,
                            headers={"Origin": origin}, follow_redirects=False)
        assert answer.status_code == 403, (origin, answer.status_code)
    # With the page's token but from another origin: refused too.
    driver.get(dashboard_url + "/workflows/new")
    token = driver.find_element(By.NAME, "csrf").get_attribute("value")
    answer = httpx.post(dashboard_url + "/workflows", data={**form, "csrf": token}, cookies=cookie,
                        headers={"Origin": "http://evil.example"}, follow_redirects=False)
    assert answer.status_code == 403
    answer = httpx.post(dashboard_url + "/workflows", data={**form, "csrf": token}, cookies=cookie,
                        follow_redirects=False)
    assert answer.status_code == 403  # no Origin at all
    assert api.get("/v1/workflows").json()["total"] == count
    # The same form from the page itself goes through.
    answer = httpx.post(dashboard_url + "/workflows", data={**form, "csrf": token}, cookies=cookie,
                        headers={"Origin": dashboard_url}, follow_redirects=False)
    assert answer.status_code == 303
    assert api.get("/v1/workflows").json()["total"] == count + 1


def test_another_organizations_run_is_not_found(signed_in, dashboard_url, server):
    other = httpx.Client(base_url=server.url, timeout=30,
                         headers={"Authorization": f"Bearer {server.create_api_key('other-clinic')}"})
    workflow = other.post("/v1/workflows", json={"name": "Theirs", "main_prompt": "theirs"}).json()
    run = other.post("/v1/runs", json={"workflow_id": workflow["id"]}).json()
    driver = signed_in
    for path in (f"/runs/{run['id']}", f"/workflows/{workflow['id']}", f"/runs/{run['id']}/live"):
        driver.get(dashboard_url + path)
        assert "404" in driver.find_element(By.TAG_NAME, "h1").text, path
        assert "Theirs" not in driver.page_source
    # The 404s are logged by Chromium; they are what this test expects.
    driver.get_log("browser")
    other.patch(f"/v1/runs/{run['id']}", json={"status": "cancelled"})


# ----- the other pages --------------------------------------------------------------------------


def test_pools_settings_and_the_overview_render(signed_in, dashboard_url, machine):
    driver = signed_in
    driver.get(dashboard_url + "/pools")
    driver.find_element(By.ID, "pool-name").send_keys(unique("Front desk"))
    driver.find_element(By.CSS_SELECTOR, "form[action='/pools'] button").click()
    wait_for(lambda: re.search(r"/pools/[0-9a-f-]{36}$", driver.current_url), 10, "the pool page")
    driver.find_element(By.CSS_SELECTOR, f"input[name=add][value='{machine['id']}']").click()
    driver.find_element(By.CSS_SELECTOR, "form[action$='/members'] button").click()
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f"input[name=remove][value='{machine['id']}']"), 10,
             "the machine among the members")
    screenshot(driver, "pool")

    driver.get(dashboard_url + "/settings")
    driver.find_element(By.ID, "key-name").send_keys("from the dashboard")
    driver.find_element(By.CSS_SELECTOR, "form[action='/settings/keys'] button").click()
    key = wait_for(lambda: text_of(driver, "new-api-key"), 10, "the new key")
    assert key.startswith("cdk_")
    driver.get(dashboard_url + "/settings")
    assert key not in driver.page_source  # shown once
    screenshot(driver, "settings")

    driver.get(dashboard_url + "/")
    assert "connected" in driver.find_element(By.TAG_NAME, "main").text
    # Every input has a label.
    for path in ("/workflows/new", "/settings", "/runs", f"/workflows"):
        driver.get(dashboard_url + path)
        unlabeled = driver.execute_script("""
            return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(e => !(e.labels && e.labels.length) && !e.closest('label')).map(e => e.name);""")
        assert unlabeled == [], (path, unlabeled)


def test_settings_make_and_remove_a_model_configuration_and_a_registration_token(signed_in, dashboard_url, api):
    driver = signed_in
    driver.get(dashboard_url + "/settings")
    name = unique("Scripted model")
    driver.find_element(By.ID, "model-name").send_keys(name)
    provider = driver.find_element(By.ID, "model-provider")
    provider.clear()
    provider.send_keys("anthropic")
    driver.find_element(By.ID, "model-model").send_keys("claude-test")
    driver.find_element(By.ID, "model-key").send_keys("sk-never-shown-4711")
    driver.find_element(By.CSS_SELECTOR, "form[action='/settings/models'] button").click()
    wait_for(lambda: name in driver.page_source, 10, "the new model configuration on the page")
    assert "sk-never-shown-4711" not in driver.page_source
    listed = api.get("/v1/model-configurations").json()
    configs = listed["items"] if isinstance(listed, dict) else listed
    config = next(c for c in configs if c["name"] == name)
    driver.execute_script("window.confirm = () => true")
    driver.find_element(By.CSS_SELECTOR, f"form[action='/settings/models/{config['id']}/delete'] button").click()
    wait_for(lambda: api.get(f"/v1/model-configurations/{config['id']}").status_code == 404, 10,
             "the configuration deleted")
    wait_for(lambda: name not in driver.page_source, 10, "the configuration gone from the page")

    revoke = "form[action^='/settings/tokens/'][action$='/revoke'] button"
    active = len(driver.find_elements(By.CSS_SELECTOR, revoke))
    ttl = driver.find_element(By.ID, "token-ttl")
    ttl.clear()
    ttl.send_keys("2")
    driver.find_element(By.CSS_SELECTOR, "form[action='/settings/tokens'] button").click()
    token = wait_for(lambda: text_of(driver, "new-token"), 10, "the new token")
    driver.get(dashboard_url + "/settings")
    assert token not in driver.page_source  # shown once
    assert len(driver.find_elements(By.CSS_SELECTOR, revoke)) == active + 1
    driver.find_elements(By.CSS_SELECTOR, revoke)[0].click()
    wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, revoke)) == active, 10, "the token revoked")
    assert "revoked" in driver.find_element(By.ID, "tokens").text.lower()
    # A revoked token registers no machine.
    refused = httpx.post(f"{api.base_url}/v1/agent/register", json={"fingerprint": unique("desk")},
                         headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401, refused.text
    assert "revoked" in refused.text


def test_the_runs_filter_by_machine_keeps_its_choice_and_shows_only_that_machines_runs(
        signed_in, dashboard_url, api, machine):
    driver = signed_in
    workflow = api.post("/v1/workflows", json={"name": unique("Filtered"), "main_prompt": "x"}).json()
    pinned = api.post("/v1/runs", json={"workflow_id": workflow["id"], "machine_id": machine["id"]}).json()
    driver.get(dashboard_url + "/runs")
    Select(driver.find_element(By.ID, "filter-machine")).select_by_value(machine["id"])
    driver.find_element(By.CSS_SELECTOR, "form[action='/runs'] button").click()
    wait_for(lambda: f"machine_id={machine['id']}" in driver.current_url, 10, "the filtered list")
    chosen = Select(driver.find_element(By.ID, "filter-machine")).first_selected_option
    assert chosen.get_attribute("value") == machine["id"]
    rows = [row.get_attribute("data-run-id") for row in all_by_testid(driver, "run-row")]
    assert pinned["id"] in rows
    # Another machine's filter does not list it.
    other = api.post("/v1/machines", json={"fingerprint": unique("fp"), "unkey_key_id": unique("k"),
                                           "name": "<b>other</b>"}).json()
    driver.get(f"{dashboard_url}/runs?machine_id={other['id']}")
    assert pinned["id"] not in [row.get_attribute("data-run-id") for row in all_by_testid(driver, "run-row")]
    labels = [o.text for o in Select(driver.find_element(By.ID, "filter-machine")).options]
    assert "<b>other</b>" in labels  # escaped, shown as text
    wait_for_run(api, pinned["id"])
    api.delete(f"/v1/machines/{other['id']}")


def test_a_machine_is_deleted_from_its_page_and_an_attachment_downloads(signed_in, dashboard_url, api, machine):
    driver = signed_in
    spare = api.post("/v1/machines", json={"fingerprint": unique("fp"), "unkey_key_id": unique("k"),
                                           "name": unique("Spare desk")}).json()
    driver.get(f"{dashboard_url}/machines/{spare['id']}")
    assert spare["name"] in driver.find_element(By.TAG_NAME, "main").text
    driver.execute_script("window.confirm = () => true")
    driver.find_element(By.CSS_SELECTOR, f"form[action='/machines/{spare['id']}/delete'] button").click()
    wait_for(lambda: driver.current_url.rstrip("/").endswith("/machines"), 10, "the machines list")
    assert api.get(f"/v1/machines/{spare['id']}").status_code == 404
    assert spare["name"] not in driver.page_source

    workflow = api.post("/v1/workflows", json={"name": unique("With a file"), "main_prompt": "x"}).json()
    content = "Visit note, ✓ 2026\n"
    run = api.post("/v1/runs", json={"workflow_id": workflow["id"], "file_inputs": [
        {"filename": "note.txt", "content": base64.b64encode(content.encode()).decode()}]})
    assert run.status_code == 201, run.text
    run = run.json()
    driver.get(f"{dashboard_url}/runs/{run['id']}")
    link = wait_for(lambda: all_by_testid(driver, "run-attachment"), 10, "the attachment link")[0]
    assert link.text == "note.txt"
    href = link.get_attribute("href")
    cookies = {c["name"]: c["value"] for c in driver.get_cookies()}
    download = httpx.get(href, cookies=cookies)
    assert download.status_code == 200, download.text
    assert download.content.decode() == content
    # Without the session cookie the file is not served.
    assert httpx.get(href, follow_redirects=False).status_code in (302, 303, 401, 403)
    wait_for_run(api, run["id"])
