"""Prompt-only workflows through the official SDK (PLANNER.md), end to end.

A real `cyberdesk-agent` joined to the real server drives a real xterm on a private Xvfb.
The model is the scripted computer-use model (`Tests/ScriptedModel`), a stand-in for a
model vendor's API, which cannot be reached from here: it speaks the vendor's wire format
and finds the xterm by its colour in the screenshots the server sends it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from cyberdesk import ModelConfigurationCreate, RunCreate, TrajectoryUpdate, WorkflowCreate
from openapi_client.cyberdesk_cloud_client.models import WorkflowModelMetadata
from openapi_client.cyberdesk_cloud_client.models.model_configuration_create_additional_params_type_0 import (
    ModelConfigurationCreateAdditionalParamsType0,
)
from sdk_helpers import ok
from server_process import REPO_ROOT

BUILD = REPO_ROOT / ".build" / "debug"
NOTE_COLOUR = "#ffd700"
PROMPT = (
    "Click the yellow note window, type the patient's name «{patient}» and press Enter, then type the EHR "
    "password «{$ehr_password}» and press Enter. Report the patient's name as the output «patient»."
)
SCRIPT = {
    "actions": [
        {"click": {"color": NOTE_COLOUR}},
        {"type": {"quoted": 0}},
        {"key": "Return"},
        {"type": {"quoted": 1}},
        {"key": "Return"},
        {"tool": "set_output", "input": {"key": {"quoted": 2}, "value": {"quoted": 0}}},
        {"end": "Entered."},
    ]
}

pytestmark = pytest.mark.skipif(
    shutil.which("Xvfb") is None or shutil.which("xterm") is None, reason="Xvfb and xterm are needed: scripts/install-deps"
)


def wait_for(predicate, timeout: float, what: str, log=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{log()}")


class Desk:
    """A private Xvfb, an xterm running `cat` (no echo) and a joined, running agent."""

    def __init__(self, root: Path, server_url: str, api_key: str):
        self.root = root
        self.processes: list[subprocess.Popen] = []
        display_file = root / "display"
        with open(display_file, "w") as out:
            self.processes.append(
                subprocess.Popen(
                    ["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                    stdout=out,
                    stderr=subprocess.DEVNULL,
                )
            )
        number = wait_for(lambda: display_file.read_text().strip(), 20, "Xvfb")
        self.display = f":{number}"
        self.typed = root / "typed.txt"
        ready = root / "ready"
        env = {**os.environ, "DISPLAY": self.display, "LC_ALL": "C.UTF-8"}
        self.processes.append(
            subprocess.Popen(
                ["xterm", "-u8", "-geometry", "80x20+300+200", "-xrm", f"XTerm*background: {NOTE_COLOUR}", "-e",
                 "sh", "-c", f"stty -icanon -echo; touch '{ready}'; exec cat > '{self.typed}'"],
                env=env,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for(ready.exists, 20, "xterm")
        self.home = root / "home"
        self.home.mkdir()
        state = root / "state"
        key_file = root / "key"
        key_file.write_text(api_key)
        self.agent_env = {**env, "HOME": str(self.home), "CYBERDESK_STATE_DIR": str(state)}
        subprocess.run(
            [str(BUILD / "cyberdesk-agent"), "join", "--server", server_url, "--api-key-file", str(key_file),
             "--name", "sdk-desk"],
            env=self.agent_env, check=True, capture_output=True, timeout=60,
        )
        key_file.unlink()
        self.agent_log = root / "agent.log"
        with open(self.agent_log, "w") as log:
            self.processes.append(
                subprocess.Popen([str(BUILD / "cyberdesk-agent"), "run"], env=self.agent_env, stderr=log,
                                 stdout=subprocess.DEVNULL)
            )

    def log(self) -> str:
        return self.agent_log.read_text(errors="replace")[-3000:] if self.agent_log.exists() else ""

    def text(self) -> str:
        return self.typed.read_text(encoding="utf-8") if self.typed.exists() else ""

    def close(self):
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


class Model:
    """The scripted model binary on an ephemeral port; keeps every request it received."""

    def __init__(self, root: Path, script: dict):
        self.key = f"sk-scripted-{uuid.uuid4().hex}"
        (root / "script.json").write_text(json.dumps(script))
        (root / "model-key").write_text(self.key)
        self.requests = root / "requests"
        self.requests.mkdir()
        port_file = root / "model-port"
        self.process = subprocess.Popen(
            [str(BUILD / "scripted-model"), "--script", str(root / "script.json"), "--port", "0", "--port-file",
             str(port_file), "--requests-dir", str(self.requests), "--api-key-file", str(root / "model-key")],
            stderr=subprocess.DEVNULL,
        )
        port = wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 20, "the scripted model")
        self.url = f"http://127.0.0.1:{port}"

    def bodies(self) -> list[bytes]:
        return [path.read_bytes() for path in sorted(self.requests.iterdir())]

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=15)


def secret_forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    forms = [raw, json.dumps(secret)[1:-1].encode(), json.dumps(secret, ensure_ascii=False)[1:-1].encode()]
    from urllib.parse import quote

    forms.append(quote(secret, safe="").encode())
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        first, last = (offset + 2) // 3 * 4, (offset + len(raw)) // 3 * 4
        if last - first >= 8:
            forms.append(encoded[first:last])
    return forms


def wait_for_run(sdk, run_id: str, log) -> object:
    def finished():
        run = ok(sdk.runs.get_sync(run_id), "runs.get")
        return run if str(run.status.value) in ("success", "task_failed", "error", "cancelled") else None

    return wait_for(finished, 120, f"run {run_id} to end", log)


def test_prompt_only_workflow_runs_through_the_model_then_replays_without_it(server, client_for_key, tmp_path):
    # An organization of its own, so the agent takes only this test's runs.
    key = server.create_api_key(f"sdk-prompt-{uuid.uuid4().hex[:8]}")
    sdk = client_for_key(key)
    secret = f"hunter2-✓-{uuid.uuid4().hex[:6]}"
    model = Model(tmp_path, SCRIPT)
    desk = Desk(tmp_path, server.url, key)
    try:
        run_prompt(sdk, model, desk, secret)
    finally:
        desk.close()
        model.close()
    for index, body in enumerate(model.bodies()):
        for form in secret_forms(secret):
            assert form not in body, f"request {index} to the model carried the secret"
    for path in Path(server.data_dir).rglob("*"):
        if path.is_file():
            assert model.key.encode() not in path.read_bytes(), f"the model's API key is in {path}"
    assert model.key not in server.stderr_tail(100000)


def run_prompt(sdk, model: Model, desk: Desk, secret: str):
    config = ok(
        sdk.model_configurations.create_sync(
            ModelConfigurationCreate(
                name="scripted claude",
                provider="anthropic",
                model="scripted-cua-1",
                api_key=model.key,
                is_computer_use_model=True,
                additional_params=ModelConfigurationCreateAdditionalParamsType0.from_dict({"base_url": model.url}),
            )
        ),
        "model_configurations.create",
    )
    assert config.api_key_alias and model.key not in json.dumps(config.to_dict())
    workflow = ok(
        sdk.workflows.create_sync(
            WorkflowCreate(
                main_prompt=PROMPT,
                name="enter patient",
                output_schema='{"type": "object", "required": ["patient"]}',
                model_metadata=WorkflowModelMetadata(main_agent_model_id=config.id),
            )
        ),
        "workflows.create",
    )
    patient = "Łucja Müller-Øberg"
    run = ok(
        sdk.runs.create_sync(
            RunCreate(workflow_id=workflow.id, input_values={"patient": patient},
                      sensitive_input_values={"ehr_password": secret})
        ),
        "runs.create",
    )
    done = wait_for_run(sdk, str(run.id), desk.log)
    assert str(done.status.value) == "success", f"{done.error}\n{desk.log()}"
    assert wait_for(lambda: desk.text().endswith(secret + "\n"), 20, "the typed text", desk.log)
    assert desk.text() == f"{patient}\n{secret}\n"
    assert done.output_data.to_dict()["patient"] == patient
    usage = done.usage_metadata.to_dict()
    assert usage["total_agentic_steps"] == 6 and usage["total_cached_steps"] == 0

    trajectory = ok(sdk.runs.get_trajectory_sync(str(run.id)), "runs.get_trajectory")
    steps = [step.to_dict() for step in trajectory.trajectory_data]
    assert [step["func_name"] for step in steps] == ["click", "type", "key", "type", "key", "set_output"]
    assert steps[1]["kwargs"]["text"] == "{patient}" and steps[3]["kwargs"]["text"] == "{$ehr_password}"
    assert "checkpoint" in steps[0] and "checkpoint" in steps[1]
    generated = ok(sdk.runs.generate_trajectory_sync(str(run.id)), "runs.generate_trajectory")
    assert generated.is_generated is True and generated.id == trajectory.id
    ok(sdk.trajectories.update_sync(str(trajectory.id), TrajectoryUpdate(is_approved=True)), "trajectories.update")

    calls = len(model.bodies())
    again = ok(
        sdk.runs.create_sync(
            RunCreate(workflow_id=workflow.id, input_values={"patient": "Ada Lovelace"},
                      sensitive_input_values={"ehr_password": secret})
        ),
        "runs.create (replay)",
    )
    replayed = wait_for_run(sdk, str(again.id), desk.log)
    assert str(replayed.status.value) == "success", f"{replayed.error}\n{desk.log()}"
    assert len(model.bodies()) == calls, "the replay called the model"
    assert wait_for(lambda: desk.text().endswith(f"Ada Lovelace\n{secret}\n"), 20, "the replayed text", desk.log)
    assert replayed.usage_metadata.to_dict()["total_cached_steps"] == 6
