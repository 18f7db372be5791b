"""Drives scripts/bench-planner: real server, agent, xterm and Xvfb; the scripted model.

Per model turn it reads the agent's `model turn` debug lines (capture+encode, upload, the
`plan` round trip) and the server's `model turn` lines (the model call alone), and each
step's execution time from the run history. The overhead of a turn is everything but the
model call: capture + upload + (plan round trip - model call) + executing its steps.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

COLOUR = "#ffd700"
PROMPT = (
    "In the yellow note window: type «{patient}», press Enter, type «Blood pressure 120/80», press Enter, "
    "then type «{$password}» and press Enter. Report the patient as «patient»."
)
# Ten executed actions, then the end of the turn: eleven model calls.
SCRIPT = {
    "actions": [
        {"click": {"color": COLOUR}},
        {"type": {"quoted": 0}},
        {"key": "Return"},
        {"type": {"quoted": 1}},
        {"key": "Return"},
        {"click": {"color": COLOUR}},
        {"type": {"quoted": 2}},
        {"key": "Return"},
        {"key": "shift"},
        {"tool": "set_output", "input": {"key": {"quoted": 3}, "value": {"quoted": 0}}},
        {"end": "Done."},
    ]
}
FIELD = re.compile(r'(\S+?)=("[^"]*"|\S+)')


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    sys.exit(f"bench-planner: timed out waiting for {what}")


def api(base, key, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read() or b"null")


def lines(path: Path, message: str):
    for line in path.read_text(errors="replace").splitlines():
        if f" {message} " in line or line.endswith(f" {message}"):
            yield {key: value.strip('"') for key, value in FIELD.findall(line)}


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


REPLAY_SCRIPT = {
    "actions": [step for _ in range(10) for step in ({"click": {"color": COLOUR}}, {"type": {"text": "x"}})]
    + [{"end": "done"}]
}


def breakdown(run):
    """Where a replay's wall time goes, from its history: before the first step acts (claim,
    imports, the first report), in the steps' actions (clicks, types), between one step's end
    and the next one's start (the report and the check), and after the last step."""
    from datetime import datetime

    def at(text):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000

    steps = [e for e in run["run_message_history"] if e.get("type") == "step"]
    gaps = [at(b["started_at"]) - at(a["ended_at"]) for a, b in zip(steps, steps[1:])]
    return {
        "before first step": at(steps[0]["started_at"]) - at(run["started_at"]),
        "clicks": sum(e["duration_ms"] for e in steps if e["func_name"] == "click"),
        "types": sum(e["duration_ms"] for e in steps if e["func_name"] == "type"),
        "between steps": sum(gaps),
        "after last step": at(run["ended_at"]) - at(steps[-1]["ended_at"]),
    }


def cpu_ms(pids):
    """CPU time used so far by each process and its threads (ms, from /proc/PID/schedstat)."""
    used = {}
    for name, pid in pids.items():
        total = 0
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError):
                pass
        used[name] = total / 1e6
    return used


def replay_benchmark(base, key, model_url, runs, pids):
    """Wall time of a 20-step replay with a checkpoint on every step, against the same steps
    without them (scripts/bench-planner --replay)."""

    steps_seen = []

    def run_to_end(workflow_id):
        run = api(base, key, "POST", "/v1/runs", {"workflow_id": workflow_id})

        def finished():
            current = api(base, key, "GET", f"/v1/runs/{run['id']}")
            return current if current["status"] in ("success", "task_failed", "error", "cancelled") else None

        # The first look comes after the replay should be over: a GET of the run while it runs
        # takes server time from its heartbeats, and would slow the longer replays more.
        time.sleep(0.25)
        done = wait_for(finished, 120, "the run")
        if done["status"] != "success":
            checks = [e for e in done["run_message_history"] if e.get("type") == "checkpoint"]
            if os.environ.get("BENCH_DEBUG"):
                import base64
                final = [e for e in done["run_message_history"] if e.get("type") == "final_screenshot"]
                if final:
                    link = api(base, key, "GET", f"/v1/runs/{done['id']}/image/signed-url?image_url={final[0]['image_id']}")
                    Path("/tmp/bench-final.png").write_bytes(urllib.request.urlopen(link["signed_url"]).read())
                for index, step in enumerate(steps_seen):
                    if "checkpoint" in step:
                        Path(f"/tmp/bench-cp{index}.png").write_bytes(base64.b64decode(step["checkpoint"]["png"]))
                        print(index, step["func_name"], step["checkpoint"]["region"])
            sys.exit(f"bench-planner: run ended {done['status']}: {done['error']}; checks: {checks}")
        return done

    def seconds(run):
        from datetime import datetime
        start = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(run["ended_at"].replace("Z", "+00:00"))
        return (end - start).total_seconds()

    config = api(base, key, "POST", "/v1/model-configurations", {
        "name": "scripted", "provider": "anthropic", "model": "scripted-cua-1",
        "additional_params": {"base_url": model_url}})
    recorded_wf = api(base, key, "POST", "/v1/workflows", {"main_prompt": "Click the note and type x, ten times"})
    first = api(base, key, "POST", "/v1/runs", {"workflow_id": recorded_wf["id"], "main_agent_model_id": config["id"]})
    wait_for(lambda: api(base, key, "GET", f"/v1/runs/{first['id']}")["status"] == "success", 120, "the model run")
    trajectory = api(base, key, "GET", f"/v1/runs/{first['id']}/trajectory")
    steps = trajectory["trajectory_data"]
    steps_seen.extend(steps)
    checked = sum(1 for step in steps if "checkpoint" in step)
    api(base, key, "PATCH", f"/v1/trajectories/{trajectory['id']}", {"is_approved": True})
    plain_wf = api(base, key, "POST", "/v1/workflows", {"main_prompt": "the same, without checkpoints"})
    api(base, key, "POST", "/v1/trajectories", {
        "workflow_id": plain_wf["id"], "dimensions": trajectory["dimensions"], "is_approved": True,
        "trajectory_data": [{k: v for k, v in step.items() if k != "checkpoint"} for step in steps]})
    with_times, without_times, waits = [], [], []
    with_parts, without_parts = [], []
    cpu = {"with": {name: 0.0 for name in pids}, "without": {name: 0.0 for name in pids}}

    def measured(label, workflow_id):
        before = cpu_ms(pids)
        run = run_to_end(workflow_id)
        after = cpu_ms(pids)
        for name in pids:
            cpu[label][name] += after[name] - before[name]
        return run

    for _ in range(runs):
        run = measured("with", recorded_wf["id"])
        with_times.append(seconds(run))
        with_parts.append(breakdown(run))
        waits += [e["checkpoint"]["waited_ms"] for e in run["run_message_history"] if "checkpoint" in e]
        plain = measured("without", plain_wf["id"])
        without_times.append(seconds(plain))
        without_parts.append(breakdown(plain))
    ratio = statistics.median(with_times) / statistics.median(without_times)
    print(f"replay of {len(steps)} steps ({checked} with checkpoints), {runs} runs each, 1920x1080; "
          f"trajectory_data {len(json.dumps(steps)) / 1024:.0f} KiB with checkpoints, "
          f"{len(json.dumps([{k: v for k, v in step.items() if k != 'checkpoint'} for step in steps])) / 1024:.1f} KiB without")
    print(f"  with checkpoints:    p50 {statistics.median(with_times) * 1000:.0f} ms "
          f"(min {min(with_times) * 1000:.0f}, max {max(with_times) * 1000:.0f})")
    print(f"  without checkpoints: p50 {statistics.median(without_times) * 1000:.0f} ms "
          f"(min {min(without_times) * 1000:.0f}, max {max(without_times) * 1000:.0f})")
    checks = (f"p50 {statistics.median(waits):.1f} ms, p95 {percentile(waits, 95):.1f} ms, max {max(waits):.1f} ms"
              if waits else "none")
    print(f"  ratio {ratio:.2f} (target <= 1.3); one check in the agent, as recorded in the history: {checks}")
    for label in ("with", "without"):
        print(f"  CPU per replay {label} checkpoints (ms, mean; includes the benchmark's polling): "
              + ", ".join(f"{name} {used / runs:.1f}" for name, used in cpu[label].items()))
    for label, parts in (("with", with_parts), ("without", without_parts)):
        keys = parts[0].keys()
        print(f"  where the time goes {label} checkpoints (p50 ms): "
              + ", ".join(f"{key} {statistics.median(p[key] for p in parts):.1f}" for key in keys))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--runs", type=int, default=5)
    # The default has a character missing from the keymap (typed on a borrowed keycode, with
    # the driver's 150 ms keymap grace); --secret s3cret-ascii shows the steps without it.
    parser.add_argument("--secret", default="s3cret-✓")
    # Replay mode (issue 13): a 20-step trajectory recorded by a model run (a checkpoint on
    # every step), replayed with and without its checkpoints.
    parser.add_argument("--replay", action="store_true")
    args = parser.parse_args()
    binaries = Path(args.bin)
    work = Path(tempfile.mkdtemp(prefix="bench-planner-"))
    processes = []
    try:
        display_file = work / "display"
        with open(display_file, "w") as out:
            processes.append(subprocess.Popen(
                ["Xvfb", "-displayfd", "1", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"], stdout=out,
                stderr=subprocess.DEVNULL))
        display = ":" + wait_for(lambda: display_file.read_text().strip(), 20, "Xvfb")
        env = {**os.environ, "DISPLAY": display, "LC_ALL": "C.UTF-8"}
        ready = work / "ready"
        processes.append(subprocess.Popen(
            # multiClickTime 1 ms: the replay clicks faster than a person, and xterm would take
            # two clicks on the same spot as a double click and highlight a selection.
            ["xterm", "-u8", "-geometry", "100x30+400+300", "-xrm", f"XTerm*background: {COLOUR}", "-xrm",
             "XTerm*multiClickTime: 1", "-e", "sh", "-c",
             f"stty -icanon -echo; touch '{ready}'; exec cat > '{work / 'typed.txt'}'"], env=env,
            stderr=subprocess.DEVNULL))
        wait_for(ready.exists, 20, "xterm")

        data = work / "data"
        server_log = work / "server.log"
        port_file = work / "server-port"
        processes.append(subprocess.Popen(
            [str(binaries / "cyberdesk-server"), "serve", "--port", "0", "--port-file", str(port_file),
             "--data-dir", str(data)], stdout=subprocess.DEVNULL, stderr=open(server_log, "w")))
        base = "http://127.0.0.1:" + wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 30, "server")
        key = wait_for(lambda: (data / "admin-api-key").exists() and (data / "admin-api-key").read_text().strip(), 10,
                       "admin key")

        (work / "script.json").write_text(json.dumps(REPLAY_SCRIPT if args.replay else SCRIPT))
        model_port = work / "model-port"
        processes.append(subprocess.Popen(
            [str(binaries / "scripted-model"), "--script", str(work / "script.json"), "--port", "0", "--port-file",
             str(model_port), "--requests-dir", str(work / "requests")], stderr=subprocess.DEVNULL))
        (work / "requests").mkdir(exist_ok=True)
        model_url = "http://127.0.0.1:" + wait_for(lambda: model_port.exists() and model_port.read_text().strip(), 20,
                                                   "scripted model")

        home = work / "home"
        home.mkdir()
        agent_env = {**env, "HOME": str(home), "CYBERDESK_STATE_DIR": str(work / "state")}
        (work / "key").write_text(key)
        subprocess.run([str(binaries / "cyberdesk-agent"), "join", "--server", base, "--api-key-file", str(work / "key"),
                        "--name", "bench"], env=agent_env, check=True, capture_output=True)
        agent_log = work / "agent.log"
        processes.append(subprocess.Popen(
            [str(binaries / "cyberdesk-agent"), "run", "--log-level", "debug"], env=agent_env,
            stdout=subprocess.DEVNULL, stderr=open(agent_log, "w")))

        if args.replay:
            named = dict(zip(("Xvfb", "xterm", "server", "model", "agent"), processes))
            replay_benchmark(base, key, model_url, args.runs, {name: p.pid for name, p in named.items()})
            return
        config = api(base, key, "POST", "/v1/model-configurations", {
            "name": "scripted", "provider": "anthropic", "model": "scripted-cua-1",
            "additional_params": {"base_url": model_url}})
        workflow = api(base, key, "POST", "/v1/workflows", {
            "main_prompt": PROMPT, "model_metadata": {"main_agent_model_id": config["id"]}})

        slow = []
        walls, overheads, parts = [], [], {"capture": [], "upload": [], "server": [], "model": [], "execute": []}
        for index in range(args.runs):
            created = time.monotonic()
            run = api(base, key, "POST", "/v1/runs", {
                "workflow_id": workflow["id"], "input_values": {"patient": f"Patient {index}"},
                "sensitive_input_values": {"password": args.secret}})

            def finished():
                current = api(base, key, "GET", f"/v1/runs/{run['id']}")
                return current if current["status"] in ("success", "task_failed", "error", "cancelled") else None

            done = wait_for(finished, 120, "the run")
            walls.append(time.monotonic() - created)
            if done["status"] != "success":
                sys.exit(f"bench-planner: run ended {done['status']}: {done['error']}\n{agent_log.read_text()[-3000:]}")
            history = done["run_message_history"]
            steps = [event for event in history if event.get("type") == "step"]
            agent_turns = [t for t in lines(agent_log, "model turn") if t.get("run.id") == run["id"]]
            server_turns = [t for t in lines(server_log, "model turn") if t.get("run.id") == run["id"]]
            by_turn = {}
            # The steps of turn N's answer are executed before turn N+1's request.
            step_index = 0
            for number, (agent, server) in enumerate(zip(agent_turns, server_turns), start=1):
                count = int(agent.get("steps", "0"))
                executed = sum(step["duration_ms"] for step in steps[step_index:step_index + count])
                slow.extend((step["duration_ms"], step["func_name"], step.get("args", {}).get("text", ""))
                            for step in steps[step_index:step_index + count] if step["duration_ms"] > 50)
                step_index += count
                capture, upload = float(agent["capture.ms"]), float(agent["upload.ms"])
                plan, model = float(agent["plan.ms"]), float(server["model.ms"])
                by_turn[number] = (capture, upload, plan - model, model, executed)
            for capture, upload, server_part, model, executed in by_turn.values():
                parts["capture"].append(capture)
                parts["upload"].append(upload)
                parts["server"].append(server_part)
                parts["model"].append(model)
                parts["execute"].append(executed)
                overheads.append(capture + upload + server_part + executed)

        print(f"runs: {args.runs}, model turns measured: {len(overheads)}, screen 1920x1080, screenshots 1280x720")
        print(f"per model step, without the model: p50 {statistics.median(overheads):.1f} ms, "
              f"p95 {percentile(overheads, 95):.1f} ms, max {max(overheads):.1f} ms (target <= 150 ms)")
        for name, values in parts.items():
            print(f"  {name:8} p50 {statistics.median(values):7.1f} ms   p95 {percentile(values, 95):7.1f} ms")
        without = [o - e for o, e in zip(overheads, parts["execute"])]
        print(f"  without executing the steps: p50 {statistics.median(without):.1f} ms, p95 {percentile(without, 95):.1f} ms, "
              f"max {max(without):.1f} ms")
        for duration, name, text in sorted(slow, reverse=True)[:5]:
            print(f"  slow step: {name} {text!r} {duration:.1f} ms")
        print(f"10-action prompt run, creation to end: p50 {statistics.median(walls):.2f} s, "
              f"min {min(walls):.2f} s, max {max(walls):.2f} s")
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
