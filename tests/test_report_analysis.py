"""Analysis sections (shocks, scenarios, targeting, panel) in a fit directory's report.html."""

import base64
import io
import json
import re
import shutil
import warnings

import pytest
from click.testing import CliRunner
from PIL import Image

import rima
from rima.analysis.report_parts import add_analyses
from rima.cli import cli, main
from rima.errors import RimaInputError
from rima.report import add_sections, load_sections

TITLES = {  # section key -> title, in page order
    "shocks": "Shocks and food security: fcs (level)",
    "shocks_logit": "(logit)",
    "scenarios": "Scenario effects on RCI_100",
    "targeting": "Soums ranked for early action",
    "panel": "Panel: resilience over rounds",
}
FIGURES = {"shocks": ["shocks_coefficients"], "shocks_logit": ["shocks_logit_coefficients"],
           "scenarios": ["scenarios_1_by_soum", "scenarios_2_by_soum"],
           "targeting": ["targeting_ranking"], "panel": []}
SCENARIOS = """
[[scenario]]
name = "insurance"
changes = [{action = "enrol", variable = "social_insurance", points = 5}]

[[scenario]]
name = "hay"
changes = [{action = "scale", variable = "hay_reserve_t", factor = 1.2}]
"""


def invoke(args):
    r = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def exit_code(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    return exc.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def files(tmp_path_factory, small_survey, example_dir):
    d = tmp_path_factory.mktemp("report_analysis")
    paths = small_survey.write(d)
    (d / "scenarios.toml").write_text(SCENARIOS)
    panel = rima.simulate(300, seed=8, panel=True).write(d / "panel")
    fit = d / "fit"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        invoke(["fit", paths["households"], "--spec", example_dir / "spec.toml", "--out", fit,
                "--quiet"])
        plain = (fit / "report.html").read_text()
        data, soums = paths["households"], paths["soums"]
        # the model defaults to DIR/model.json; the order of the runs is not the page order
        invoke(["target", data, "--soums", soums, "--report", fit])
        invoke(["panel", panel["households"], "--soums", panel["soums"], "--report", fit])
        invoke(["shocks", data, "--model", fit / "model.json", "--soums", soums,
                "--report", fit])
        invoke(["scenario", data, "--scenarios", d / "scenarios.toml", "--boot", "30",
                "--report", fit])
        invoke(["shocks", data, "--soums", soums, "--kind", "logit", "--no-interactions",
                "--report", fit])
    return {"dir": d, "fit": fit, "data": data, "soums": soums, "plain": plain,
            "scenarios": d / "scenarios.toml"}


def embedded(page):
    return dict(re.findall(r'<figure id="fig-([^"]+)"><img alt="[^"]*" '
                           r'src="data:image/png;base64,([^"]+)"', page))


def test_every_section_in_page_order(files):
    page = (files["fit"] / "report.html").read_text()
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)   # still self-contained
    starts = [page.index(f"<section class='analysis' id='sec-{k}'>") for k in TITLES]
    assert starts == sorted(starts)
    assert starts[0] > page.index("<h2 id='s-row-accounting'>Row accounting</h2>")
    for key, title in TITLES.items():
        body = page[page.index(f"id='sec-{key}'"):].split("</section>", 1)[0]
        assert title in body
        assert "different model" not in body      # every run used DIR/model.json
    assert "<table" in page.split("id='sec-panel'")[1]
    assert "Class transitions, baseline to round 2" in page
    # the fit's part of the page is unchanged apart from the appended sections; only the
    # table of contents gains their entries
    def no_toc(text):
        return re.sub(r"<nav class='toc'.*?</nav>", "", text, flags=re.DOTALL)

    assert no_toc(page.split("<section class='analysis'")[0]).rstrip("\n") == \
        no_toc(files["plain"]).replace("</body></html>", "").rstrip("\n")
    toc = re.search(r"<nav class='toc'.*?</nav>", page, flags=re.DOTALL).group(0)
    assert all(f"{t}</a>" in toc for t in ("Row accounting", "Soums ranked for early action"))


def test_section_figures_decode_as_png(files, small_survey):
    page = (files["fit"] / "report.html").read_text()
    imgs = embedded(page)
    n_soums = small_survey.households["soum"].nunique()
    for key, stems in FIGURES.items():
        body = page[page.index(f"id='sec-{key}'"):].split("</section>", 1)[0]
        assert list(embedded(body)) == stems
        for stem in stems:
            raw = base64.b64decode(imgs[stem])
            assert raw == (files["fit"] / "figures" / f"{stem}.png").read_bytes()
            im = Image.open(io.BytesIO(raw))
            assert im.format == "PNG"
            w, h = im.size
            # figures are 6.4 in wide at 100 dpi, cropped to their content
            assert 450 < w <= 700, (stem, w)
            if stem.startswith(("scenarios", "targeting")):
                # one row per soum at 0.28 in
                assert h > 0.28 * 100 * n_soums * 0.9, (stem, h)
            else:
                assert h > 150, (stem, h)
    stored = {s["key"]: s for s in load_sections(files["fit"])}
    assert list(stored) == list(TITLES)
    assert [f["caption"] for f in stored["scenarios"]["figures"]] == [
        "insurance: change in mean RCI_100 by soum", "hay: change in mean RCI_100 by soum"]


def test_rima_report_keeps_sections(files, tmp_path):
    d = tmp_path / "fit"
    shutil.copytree(files["fit"], d)
    before = (d / "report.html").read_text()
    pngs = {p.name: p.read_bytes() for p in (d / "figures").glob("*.png")}
    (d / "report.html").unlink()
    for stem in ("targeting_ranking", "scenarios_2_by_soum"):
        (d / "figures" / f"{stem}.png").unlink()
    out = invoke(["report", d])
    assert "analysis sections: shocks, shocks_logit, scenarios, targeting, panel" in out
    assert (d / "report.html").read_text() == before
    assert {p.name: p.read_bytes() for p in (d / "figures").glob("*.png")} == pngs


def test_rerun_is_deterministic_and_replaces(files, tmp_path, capsys):
    d = tmp_path / "fit"
    shutil.copytree(files["fit"], d)
    section = (d / "report_sections" / "targeting.json").read_bytes()
    before = (d / "report.html").read_text()
    invoke(["target", files["data"], "--soums", files["soums"], "--report", d])
    assert (d / "report_sections" / "targeting.json").read_bytes() == section
    assert (d / "report.html").read_text() == before
    # a scenario rerun with one scenario drops the second one's figure
    invoke(["scenario", files["data"], "--change", "scale hay_reserve_t factor=1.2",
            "--boot", "20", "--report", d])
    imgs = embedded((d / "report.html").read_text())
    assert "scenarios_1_by_soum" in imgs and "scenarios_2_by_soum" not in imgs
    assert not (d / "figures" / "scenarios_2_by_soum.png").exists()
    invoke(["report", d, "--remove-section", "targeting"])
    page = (d / "report.html").read_text()
    assert "sec-targeting" not in page and "sec-shocks" in page
    assert not (d / "figures" / "targeting_ranking.png").exists()
    code, err = exit_code(["report", d, "--remove-section", "targeting"], capsys)
    assert code == 3 and "no report section 'targeting'" in err


def test_python_api_and_model_check(files, tmp_path, small_survey, example_spec):
    from rima.analysis.shocks import shocks

    d = tmp_path / "fit"
    shutil.copytree(files["fit"], d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = rima.fit(small_survey.households, example_spec)
    res = shocks(result, soums=small_survey.soums, soum_shocks=["dzud_class"])
    # the same fit as `rima fit` made (from a data frame, not its file): same model identity
    add_analyses(d, shocks=res, model=result.model)
    page = (d / "report.html").read_text()
    body = page[page.index("id='sec-shocks'"):].split("</section>", 1)[0]
    assert "RCI:dzud_class[dzud]" in body and "different model" not in body
    # a section made with another model is shown with a warning, not silently
    sec = {"key": "targeting", "title": "Other model", "html": "<p>x</p>", "caption": "c",
           "figures": [d / "figures" / "targeting_ranking.png"]}
    add_sections(d, [sec], model="sha256:" + "0" * 64)
    body = (d / "report.html").read_text().split("id='sec-targeting'")[1]
    assert body.index("different model") < body.index("</section>")
    with pytest.raises(RimaInputError, match="rsm.png has the name of another figure"):
        shutil.copy(d / "figures" / "rsm.png", tmp_path / "rsm.png")
        add_sections(d, [{**sec, "key": "extra", "figures": [tmp_path / "rsm.png"]}])
    with pytest.raises(RimaInputError, match="key 'bad key'"):
        add_sections(d, [{**sec, "key": "bad key"}])


def test_bad_report_directories(files, tmp_path, capsys):
    code, err = exit_code(["target", files["data"], "--soums", files["soums"], "--report",
                           tmp_path], capsys)
    assert code == 3 and "no report_data.json" in err and "rima fit" in err
    code, err = exit_code(["shocks", files["data"], "--soums", files["soums"]], capsys)
    assert code == 2 and "give --model (or --report DIR" in err
    d = tmp_path / "fit"
    shutil.copytree(files["fit"], d)
    f = d / "report_sections" / "panel.json"
    f.write_text(f.read_text()[:200])
    code, err = exit_code(["report", d], capsys)
    assert code == 3 and "panel.json: not a valid report section" in err
    doc = json.loads((d / "report_sections" / "targeting.json").read_text())
    doc["figures"][0]["file"] = "../escape.png"
    f.write_text(json.dumps({**doc, "key": "panel"}))
    code, err = exit_code(["report", d], capsys)
    assert code == 3 and "bad figure file name '../escape.png'" in err
