"""report.html renders in headless Chromium with every figure present and decoded."""

import base64
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import rima

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "reference" / "pipeline_data" / "sim_n600_s11.csv.gz"
SPEC = ROOT / "examples" / "zavkhan" / "spec.toml"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# run after load: record each image's decoded (natural) size in the DOM for --dump-dom
PROBE = """<script>
window.addEventListener('load', function () {
  var out = [];
  document.querySelectorAll('img').forEach(function (im) {
    out.push([im.closest('figure').id, im.naturalWidth, im.naturalHeight, im.complete]);
  });
  var pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script></body>"""


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    from rima.analysis.report_parts import add_analyses
    from rima.analysis.targeting import target

    d = tmp_path_factory.mktemp("fit")
    result = rima.fit(pd.read_csv(DATA), SPEC)
    result.save(d)
    # an analysis section too, so its figure goes through the same rendering checks
    add_analyses(d, target=target(result), model=result.model)
    return d


def chromium(args, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: apt-get install chromium")
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=90)


def png_size(raw: bytes):
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


EXPECTED = ["heatmap_ABS", "radar_ABS", "heatmap_AC", "radar_AC", "mimic_path", "rsm",
            "rci_100_hist", "rci_by_soum", "rsm_by_soum", "rci_by_head_sex", "rsm_by_head_sex",
            "targeting_ranking"]


def test_report_is_self_contained(out):
    page = (out / "report.html").read_text()
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)   # no external files
    imgs = re.findall(r'<figure id="fig-([^"]+)"><img alt="[^"]*" src="data:image/png;base64,'
                      r'([^"]+)"', page)
    keys = [k for k, _ in imgs]
    for k in EXPECTED:
        assert k in keys
    for k, b64 in imgs:
        w, h = png_size(base64.b64decode(b64))
        assert w > 100 and h > 100, k
        assert (out / "figures" / f"{k}.png").read_bytes() == base64.b64decode(b64)
    for text in ("Data summary", "Sampling adequacy", "KMO", "MIMIC model", "cfi",
                 "Resilience Structure Matrix", "Row accounting", "By head_sex",
                 "Soums ranked for early action"):
        assert text in page


def test_report_renders_in_chromium(out, tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text((out / "report.html").read_text().replace("</body>", PROBE))
    r = chromium(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r'<pre id="probe">(.*?)</pre>', r.stdout, re.DOTALL)
    assert m, "the page did not finish loading in chromium"
    sizes = json.loads(m.group(1).replace("&quot;", '"'))
    assert len(sizes) >= len(EXPECTED)
    for key, w, h, complete in sizes:
        assert complete and w > 100 and h > 100, (key, w, h)
    shot = tmp_path / "shot.png"
    r = chromium(["--window-size=1200,1600", f"--screenshot={shot}", probe.as_uri()], tmp_path)
    assert r.returncode == 0 and shot.exists()
    assert png_size(shot.read_bytes()) == (1200, 1600)


def test_report_rebuild(out):
    before = (out / "report.html").read_text()
    (out / "report.html").unlink()
    from rima.report import rebuild

    rebuild(out)
    assert (out / "report.html").read_text() == before


def test_workers_started_before_the_fit_draw_the_same_report(out):
    from rima.report import figures, rebuild

    before = (out / "report.html").read_text()
    with figures.workers_started():
        assert figures._started is not None  # forked now, importing pyplot
        rebuild(out)
        assert figures._started is None      # make_all took them over and shut them down
    assert (out / "report.html").read_text() == before
    with figures.workers_started():
        pool = figures._started
    assert figures._started is None  # a block whose fit failed leaves no workers behind
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.submit(figures._ready)
