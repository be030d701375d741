"""The disk quota of one analyst's workspace (`rima app --max-workspace-mb`)."""

from __future__ import annotations

import tomllib

import httpx

from rima.app.messages import MN
from tests._app_server import EXAMPLE, AppServer, wait_job

DATA = (EXAMPLE / "households.csv").read_bytes()   # about 0.4 MB
SPEC = tomllib.loads((EXAMPLE / "spec.toml").read_text(encoding="utf-8"))


def test_uploads_and_runs_stop_at_the_workspace_quota(tmp_path):
    srv = AppServer(tmp_path, "--max-workspace-mb", "1")
    try:
        c = httpx.Client(base_url=srv.url, timeout=120)
        c.get("/")
        assert c.post("/api/files", params={"name": "a.csv"}, content=DATA).status_code == 200
        assert c.post("/api/files", params={"name": "b.csv"}, content=DATA).status_code == 200
        listing = c.get("/api/files").json()
        assert listing["quota_bytes"] == 1024 * 1024
        assert 2 * len(DATA) <= listing["used_bytes"] < 1024 * 1024

        # a third copy would pass 1 MB: refused with the limit named, nothing kept
        r = c.post("/api/files", params={"name": "c.csv"}, content=DATA)
        assert r.status_code == 413
        (e,) = r.json()["errors"]
        assert e["field"] == "upload" and "c.csv" in e["message"] and "1 MB" in e["message"]
        # the same without a length announced: stopped while it streams
        chunks = (DATA[i:i + 65536] for i in range(0, len(DATA), 65536))
        r = c.post("/api/files", params={"name": "c.csv"}, content=chunks)
        assert r.status_code == 413 and "1 MB" in r.json()["errors"][0]["message"]
        assert c.get("/api/files").json()["files"] == ["a.csv", "b.csv"]
        assert not list(srv.data_dir.rglob("*.part"))
        # in Mongolian
        r = c.post("/api/files", params={"name": "c.csv", "lang": "mn"}, content=DATA)
        assert r.json()["errors"][0]["message"] == MN["err_quota"].format(name="c.csv", mb="1")
        # replacing a file counts the new size only
        assert c.post("/api/files", params={"name": "b.csv"}, content=DATA).status_code == 200

        # a run starts while there is room; its outputs fill the workspace; the next waits
        job = c.post("/api/fit", json={"file": "a.csv", "spec": SPEC}).json()["job"]
        assert wait_job(c, job)["state"] == "done"
        assert c.get("/api/files").json()["used_bytes"] > 1024 * 1024
        r = c.post("/api/fit", json={"file": "a.csv", "spec": SPEC})
        assert r.status_code == 413 and r.json()["errors"][0]["field"] == "run"
        assert "1 MB" in r.json()["errors"][0]["message"]
        # another analyst has their own quota
        other = httpx.Client(base_url=srv.url, timeout=120)
        other.get("/")
        assert other.post("/api/files", params={"name": "a.csv"}, content=DATA).status_code == 200
        # delete my data frees the space
        assert c.post("/api/delete").status_code == 200
        c.get("/")
        assert c.post("/api/files", params={"name": "a.csv"}, content=DATA).status_code == 200
    finally:
        srv.stop()
