"""The documentation runs as written: every fenced `sh` and `python` block of README.md,
examples/*/README.md and docs/*.md is executed (in order, per file, in a scratch directory
holding `examples/`), every `toml` block is parsed as a spec, an [options] table or a
scenario file. A block whose info string says `norun` (installing packages, a server,
curl against it) is skipped; `text` and other languages are not code."""

import os
import re
import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "examples").glob("*/README.md"),
               *(ROOT / "docs").glob("*.md")])
FENCE = re.compile(r"^( *)```([^\n`]*)\n(.*?)^\1```", re.DOTALL | re.MULTILINE)
RUN = {"sh", "bash", "python", "toml"}


def blocks(path):
    out = []
    for m in FENCE.finditer(path.read_text(encoding="utf-8")):
        info = m.group(2).split()
        lang = info[0] if info else ""
        body = "\n".join(line[len(m.group(1)):] for line in m.group(3).splitlines())
        line = path.read_text(encoding="utf-8")[:m.start()].count("\n") + 1
        out.append((lang, "norun" in info[1:], body, line))
    return out


def test_every_doc_has_its_blocks_found():
    found = {str(p.relative_to(ROOT)): [b[0] for b in blocks(p)] for p in DOCS}
    assert "python" in found["README.md"] and "sh" in found["README.md"]
    assert "toml" in found["docs/options.md"] and "toml" in found["docs/scenarios.md"]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_blocks_run(path, tmp_path, monkeypatch):
    import rima
    from rima.analysis.scenario import load_scenarios
    from rima.options import parse_options

    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    bindir = Path(sys.executable).parent
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    namespace: dict = {"__name__": "__doc__"}
    ran = 0
    for lang, norun, body, line in blocks(path):
        if norun or lang not in RUN:
            continue
        where = f"{path.name}:{line}"
        if lang in ("sh", "bash"):
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=600, check=False)
            assert r.returncode == 0, f"{where}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        elif lang == "python":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(body, where, "exec"), namespace)  # noqa: S102
        else:
            doc = tomllib.loads(body)
            if "pillars" in doc:
                rima.load_spec(doc)
            elif "scenario" in doc:
                load_scenarios(doc)
            else:
                parse_options(doc.get("options", doc))
        ran += 1
    if path in (ROOT / "README.md", ROOT / "docs" / "options.md", ROOT / "docs" / "scenarios.md"):
        assert ran > 0, f"{path.name}: no block ran"
