"""The command line shows rima's warnings as plain sentences for the analyst, without the
library file and source line Python prints by default."""

import subprocess
import sys


def test_orientation_warnings_read_as_sentences():
    run = subprocess.run([sys.executable, "-m", "rima", "demo"], capture_output=True, check=False,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    lines = [ln for ln in run.stderr.splitlines() if "net weight" in ln]
    assert lines, run.stderr
    assert all(ln.startswith("warning: pillar ") for ln in lines), lines
    assert "pipeline.py" not in run.stderr and "OrientationWarning" not in run.stderr
