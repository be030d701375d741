"""Notebook ergonomics: short reprs and HTML for results, summary() objects with
as_html(), the lavaan-style grouped MIMIC summary, plot methods, logger, threads and the
first-compile notice."""

import logging
import warnings

import pytest
from conftest import EXAMPLE_DATA, EXAMPLE_SPEC

import rima
from rima.display import Summary


@pytest.fixture(scope="module")
def result():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rima.fit(EXAMPLE_DATA, EXAMPLE_SPEC)


def test_short_reprs_and_html_cards(result):
    r = repr(result)
    assert r.startswith("<RimaResult: 2240 households") and len(r) < 400
    assert "r +" in r or "r -" in r  # the RSM shares carry their sign
    for obj in (result, result.validation, result.model, result.mimic):
        text = repr(obj)
        assert len(text) < 400 and "\n" not in text, type(obj)
        page = obj._repr_html_()
        assert page.startswith("<div class='rima-card'>") and "<table" in page
    boot = result.bootstrap(n_boot=4, seed=1, progress=False)
    assert repr(boot).startswith("<BootstrapResult: 4 replicates")
    assert "<table" in boot._repr_html_()
    assert isinstance(boot.summary(), Summary)


def test_summary_is_text_with_html(result):
    s = result.summary()
    assert isinstance(s, str) and isinstance(s, Summary)
    assert "Resilience Structure Matrix" in s
    assert repr(s) == str(s) and repr(s).count("\n") > 20  # shown laid out, not escaped
    page = s.as_html()
    assert page == s._repr_html_()
    for part in ("Latent Variables", "Regressions", "Variances", "By soum", "Row accounting"):
        assert part in page


def test_grouped_mimic_summary_blanks_fixed_values(result):
    groups = dict(result.mimic.grouped_params())
    assert list(groups) == ["Latent Variables", "Regressions", "Variances"] or \
        list(groups)[:2] == ["Latent Variables", "Regressions"]
    lat = groups["Latent Variables"]
    params = result.mimic.params
    loads = params[params["op"] == "=~"].reset_index(drop=True)
    assert len(lat) == len(loads)
    for k, row in lat.iterrows():
        assert row[""].strip() == f"RCI =~ {loads.loc[k, 'rhs']}"
        assert float(row["Estimate"]) == pytest.approx(loads.loc[k, "est"], abs=5e-4)
        fixed = not loads.loc[k, "se"] > 0
        assert (row["Std.Err"] == "") == fixed and (row["z-value"] == "") == fixed
    assert lat.loc[0, "Std.Err"] == ""  # the marker loading is fixed at 1
    text = result.mimic.summary()
    i, j, k = (text.index(t) for t in ("Latent Variables:", "Regressions:", "Variances:"))
    assert i < j < k
    assert ".fcs" in text  # residual variances marked as in lavaan


def test_plot_methods_return_figures(result):
    from matplotlib.figure import Figure

    for fig in (result.plot_rsm(), result.plot_profile("soum"), result.plot_path()):
        assert isinstance(fig, Figure) and fig.axes
    ax = result.plot_profile("head_sex").axes[0]
    lo, hi = ax.get_ylim()
    assert lo <= 0 and hi >= 100  # the full scale, not a magnified gap
    with pytest.raises(rima.errors.RimaInputError, match="no profile 'region'"):
        result.plot_profile("region")


def test_logger_threads_and_compile_notice(tmp_path, monkeypatch):
    import numba

    import rima.config as cfg

    assert isinstance(rima.logger, logging.Logger) and rima.logger.name == "rima"
    before = cfg.get_threads()
    try:
        rima.set_threads(1)
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(before)
    with pytest.raises(rima.errors.RimaInputError, match="threads"):
        rima.set_threads(0)
    said = []
    monkeypatch.setattr(cfg, "_KERNELS", tmp_path)
    cfg.first_compile_notice(said.append)
    assert said and "first run only" in said[0]
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "k.f-1.py311.nbi").write_bytes(b"")
    said.clear()
    cfg.first_compile_notice(said.append)
    assert said == []
