"""Load test of the HTTP scoring service (loopback only, bounded in requests and time).

Starts `python -m rima serve` on 127.0.0.1 (a free port) in a subprocess, then runs
concurrent clients that each POST batches of households to /models/{name}/score, and
reports requests/s, households/s, latency percentiles, errors and the server's resident
memory (RSS, sampled from /proc) over the run.

    python benchmarks/load_service.py                      # fits the bundled example first
    python benchmarks/load_service.py --model out/model.json --clients 8 --batch 500

Exit status 1 if any request failed or memory grew by more than --max-rss-growth-mb
between the first and last quarter of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "zavkhan"


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start_server(model: Path, name: str, jobs: int, max_rows: int):
    env = {k: v for k, v in os.environ.items() if k != "RIMA_SERVE_TOKEN"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rima", "serve", "--model", f"{name}={model}",
         "--host", "127.0.0.1", "--port", "0", "--jobs", str(jobs), "--max-rows", str(max_rows)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    state = {"port": None, "access": 0, "errors": 0}
    ready = threading.Event()

    def drain():  # keep reading: a full pipe would block the server's logging
        for line in proc.stderr:
            rec = json.loads(line)
            if rec.get("event") == "listening":
                state["port"] = rec["port"]
                ready.set()
            elif rec.get("event") == "access":
                state["access"] += 1
                state["errors"] += rec["status"] >= 400
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(120) or state["port"] is None:
        proc.kill()
        raise SystemExit("the server did not start")
    return proc, state


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="model.json (default: fit the bundled example)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients")
    ap.add_argument("--batch", type=int, default=200, help="households per request")
    ap.add_argument("--requests", type=int, default=400, help="requests in the measured run")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="stop the run after this")
    ap.add_argument("--jobs", type=int, default=2, help="server scoring jobs (rima serve --jobs)")
    ap.add_argument("--max-rss-growth-mb", type=float, default=20.0)
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if not (1 <= args.clients <= 64 and 1 <= args.batch <= 20_000 and 1 <= args.requests <= 20_000
            and 0 < args.max_seconds <= 600):
        ap.error("keep the run bounded: clients 1-64, batch 1-20000, requests 1-20000, "
                 "max-seconds <= 600")
    import httpx

    households = pd.read_csv(EXAMPLE / "households.csv")
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            import rima

            result = rima.fit(EXAMPLE / "households.csv", EXAMPLE / "spec.toml")
            model = result.model.save(Path(tmp) / "model.json")
        records = json.loads(households.to_json(orient="records"))
        # distinct batches cycling over the data (with ids made unique within each batch)
        n_batches = max(1, min(16, len(records) // args.batch or 1))
        bodies = []
        for b in range(n_batches):
            rows = [records[(b * args.batch + i) % len(records)] for i in range(args.batch)]
            rows = [dict(r, hhid=f"{b}-{i}") for i, r in enumerate(rows)]
            bodies.append(json.dumps(rows).encode())

        proc, state = start_server(model, "zavkhan", args.jobs, max(args.batch, 1))
        url = f"http://127.0.0.1:{state['port']}/models/zavkhan/score"
        headers = {"content-type": "application/json"}
        try:
            with httpx.Client(timeout=60) as c:  # warm-up, not measured
                for body in bodies[:4]:
                    c.post(url, content=body, headers=headers).raise_for_status()
            samples: list[tuple[float, float]] = []
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    v = rss_mb(proc.pid)
                    if v is not None:
                        samples.append((time.perf_counter(), v))
                    stop.wait(0.1)

            lock = threading.Lock()
            counter = {"next": 0}
            latencies: list[float] = []
            failures: list[str] = []
            t0 = time.perf_counter()
            deadline = t0 + args.max_seconds

            def client():
                with httpx.Client(timeout=60) as c:
                    while time.perf_counter() < deadline:
                        with lock:
                            i = counter["next"]
                            if i >= args.requests:
                                return
                            counter["next"] += 1
                        start = time.perf_counter()
                        try:
                            r = c.post(url, content=bodies[i % len(bodies)], headers=headers)
                            ok = (r.status_code == 200
                                  and r.json()["n_households"] == args.batch)
                            reason = f"HTTP {r.status_code}"
                        except httpx.HTTPError as exc:
                            ok, reason = False, type(exc).__name__
                        elapsed = time.perf_counter() - start
                        with lock:
                            latencies.append(elapsed)
                            if not ok:
                                failures.append(reason)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            stop.set()
            sampler.join()
        finally:
            proc.terminate()
            proc.wait(10)

    lat = np.array(latencies) * 1000
    rss = np.array([v for _, v in samples])
    q = max(1, len(rss) // 4)
    growth = float(np.median(rss[-q:]) - np.median(rss[:q])) if rss.size else float("nan")
    n = len(latencies)
    figures = {
        "clients": args.clients, "batch": args.batch, "server_jobs": args.jobs,
        "requests": n, "errors": len(failures), "seconds": round(wall, 2),
        "requests_per_s": round(n / wall, 1), "households_per_s": round(n * args.batch / wall),
        "latency_ms": {p: round(float(np.percentile(lat, int(p[1:]))), 1)
                       for p in ("p50", "p90", "p99")} | {"max": round(float(lat.max()), 1)},
        "rss_mb": {"first_quarter": round(float(np.median(rss[:q])), 1),
                   "last_quarter": round(float(np.median(rss[-q:])), 1),
                   "max": round(float(rss.max()), 1), "growth": round(growth, 1)},
        "server_access_log_lines": state["access"],
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(figures, indent=1))
    lt = figures["latency_ms"]
    rs = figures["rss_mb"]
    print(
        "\n| clients x batch | requests | errors | req/s | households/s | p50 / p90 / p99 ms "
        "| RSS MB (first quarter -> last, max) |\n|---|---|---|---|---|---|---|\n"
        f"| {args.clients} x {args.batch} | {n} | {len(failures)} | {figures['requests_per_s']} "
        f"| {figures['households_per_s']} | {lt['p50']} / {lt['p90']} / {lt['p99']} "
        f"| {rs['first_quarter']} -> {rs['last_quarter']}, {rs['max']} |"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    bad = failures or not growth <= args.max_rss_growth_mb
    if failures:
        print(f"FAILED: {len(failures)} request(s) failed, e.g. {failures[:3]}", file=sys.stderr)
    if not growth <= args.max_rss_growth_mb:
        print(f"FAILED: RSS grew {growth:.1f} MB", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
