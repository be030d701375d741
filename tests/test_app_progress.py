"""Progress of a page job: the steps of `rima fit` and the bootstrap's replicates done.

A stand-in child process prints the fit's step lines and draws a tqdm bar as the real
bootstrap does, one update each time the test opens a gate, so every intermediate value
is observed whatever the machine's speed; then a real fit with the bootstrap runs
through the server and its progress is polled until it ends.
"""

from __future__ import annotations

import sys
import time

import httpx
import pandas as pd

from rima.app.jobs import Job, Runner, fit_plan
from tests._app_server import EXAMPLE, AppServer

GATED = '''
import pathlib, sys, time
from tqdm import tqdm
gate = pathlib.Path(sys.argv[1])

def wait(name):
    for _ in range(30000):  # bounded: at most 10 minutes
        if (gate / name).exists():
            return
        time.sleep(0.02)
    sys.exit(5)

for step in ["validating data", "factor analysis A", "MIMIC model", "bootstrap (40 replicates)"]:
    wait("step-" + step.split()[0])
    print("[   0.1s] " + step, file=sys.stderr, flush=True)
bar = tqdm(total=40, desc="bootstrap", unit="rep", leave=False, disable=None)
for i in range(4):
    wait(f"boot-{i}")
    bar.update(10)
bar.close()
wait("end")
print("[   0.2s] writing outputs and the report", file=sys.stderr, flush=True)
print("[   0.2s] done", file=sys.stderr, flush=True)
'''


def until(cond, limit_s=600):
    t_end = time.monotonic() + limit_s
    while time.monotonic() < t_end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_progress_rises_step_by_step_and_replicate_by_replicate(tmp_path):
    script = tmp_path / "gated.py"
    script.write_text(GATED)
    gate = tmp_path / "gate"
    gate.mkdir()
    out = tmp_path / "ws" / "jobs" / "j" / "out"
    runner = Runner(1, 600, program=(sys.executable, "-m", "rima.app.child", str(script)))
    job = Job(kind="fit", argv=[str(gate)], out=out)
    job.plan = fit_plan(["A"], n_boot=40)   # 6 steps
    runner.submit(job)
    seen = []
    for name, step in (("validating", 1), ("factor", 2), ("MIMIC", 3), ("bootstrap", 4)):
        (gate / f"step-{name}").touch()
        until(lambda step=step: job.step == step - 1)
        seen.append(job.percent)
    until(lambda: job.bar is not None)
    assert job.bar == {"what": "bootstrap", "done": 0, "total": 40}
    for i in range(4):
        (gate / f"boot-{i}").touch()
        until(lambda i=i: job.bar["done"] == 10 * (i + 1))
        seen.append(job.percent)
        assert job.status()["bar"] == {"what": "bootstrap", "done": 10 * (i + 1), "total": 40}
    (gate / "end").touch()
    until(lambda: job.state != "running" and job.state != "queued")
    assert job.state == "done", job.errors
    seen.append(job.percent)
    # steps 1-4 start at 0/6, 1/6, 2/6, 3/6 of the job; the bootstrap fills the 4th sixth
    assert seen == [0, 16, 33, 50, 54, 58, 62, 66, 100]
    st = job.status()
    assert (st["step"], st["n_steps"], st["percent"]) == (6, 6, 100)


def test_a_real_bootstrap_reports_its_replicates_to_the_page(tmp_path):
    srv = AppServer(tmp_path)
    try:
        c = httpx.Client(base_url=srv.url, timeout=120)
        c.get("/")
        c.post("/api/files", params={"name": "hh.csv"},
               content=(EXAMPLE / "households.csv").read_bytes())
        import tomllib

        spec = tomllib.loads((EXAMPLE / "spec.toml").read_text(encoding="utf-8"))
        job = c.post("/api/fit", json={"file": "hh.csv", "spec": spec, "n_boot": 60}).json()["job"]
        polled = []
        t_end = time.monotonic() + 900
        while time.monotonic() < t_end:
            s = c.get(f"/api/jobs/{job}").json()
            polled.append(s)
            if s["state"] not in ("queued", "running"):
                break
            time.sleep(0.2)
        assert polled[-1]["state"] == "done", polled[-1]["errors"]
        percents = [s["percent"] for s in polled if s["percent"] is not None]
        assert percents == sorted(percents) and percents[-1] == 100
        replicates = [s["bar"]["done"] for s in polled if s["bar"]]
        assert replicates == sorted(replicates)
        assert polled[-1]["bar"] == {"what": "bootstrap", "done": 60, "total": 60}
        assert polled[-1]["n_steps"] == len(fit_plan(spec["pillars"], 60))
        boot = pd.read_csv(__import__("io").BytesIO(
            c.get(f"/api/jobs/{job}/files/bootstrap_rsm.csv").content))
        assert len(boot) == len(spec["pillars"])
    finally:
        srv.stop()
