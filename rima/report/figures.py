"""Report figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

COLORS = ["#1b6ca8", "#d9822b", "#3c9d5d", "#a23b72", "#6c757d", "#e0b000"]


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _frame(d):
    return pd.DataFrame(d["data"], columns=d["columns"])


def _figure(figsize):
    """(figure, axes) without pyplot: no backend is switched, so the same drawing serves
    the report (saved as PNG) and a notebook (the Figure returned and shown inline)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def _save(fig, path: Path | None):
    """Write the PNG and return its path; with path None return the figure itself."""
    if path is None:
        return fig
    # fixed metadata keeps the PNG bytes identical between runs
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
    if fig.canvas.manager is not None:
        pyplot().close(fig)
    return path


def heatmap(name, p, path):
    plt = pyplot()
    R = np.asarray(p["correlation"])
    vs = p["variables"]
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(vs), 0.8 + 0.55 * len(vs)))
    im = ax.imshow(R, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(vs)), vs, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(vs)), vs, fontsize=8)
    for i in range(len(vs)):
        for j in range(len(vs)):
            ax.text(j, i, f"{R[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(R[i, j]) > 0.5 else "black")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(f"{name}: correlations")
    return _save(fig, path)


def radar(name, p, path):
    plt = pyplot()
    vs = p["variables"]
    vals = np.asarray(p["radar"])
    ang = np.linspace(0, 2 * np.pi, len(vs), endpoint=False)
    fig = plt.figure(figsize=(4.2, 4.2))
    ax = fig.add_subplot(projection="polar")
    # signed: a variable pulling against its pillar sits inside the dashed zero circle
    ax.plot(np.r_[ang, ang[:1]], np.r_[vals, vals[:1]], color=COLORS[0], marker="o", ms=3)
    ax.fill(np.r_[ang, ang[:1]], np.r_[vals, vals[:1]], color=COLORS[0], alpha=0.2)
    circle = np.linspace(0, 2 * np.pi, 200)
    ax.plot(circle, np.zeros_like(circle), color="0.3", lw=0.8, ls="--")
    ax.set_xticks(ang, [f"{v}\n{x:+.2f}" for v, x in zip(vs, vals)], fontsize=7)
    ax.set_ylim(-1, 1)
    ax.set_yticks([-0.5, 0, 0.5, 1], ["-0.5", "0", "0.5", "1"], fontsize=6)
    ax.set_title(f"{name}: corr(variable, pillar)", fontsize=10)
    return _save(fig, path)


def path_diagram(data, path=None):
    from matplotlib.patches import Ellipse, Rectangle

    tab = _frame(data["mimic_params"])
    pillars, ind = data["pillar_names"], data["indicators"]
    std = {(r.lhs, r.op, r.rhs): r._asdict().get("std_all", np.nan)
           for r in tab.rename(columns={"std.all": "std_all"}).itertuples()}
    fig, ax = _figure((8, 4.5))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    ax.axis("off")
    label_box = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"}
    ys_c = np.linspace(8.5, 1.5, len(pillars))
    ys_i = np.linspace(8, 2, len(ind))
    ax.add_patch(Ellipse((5, 5), 2.0, 1.4, fc="#e8f0f8", ec="k"))
    ax.text(5, 5, "RCI", ha="center", va="center", fontsize=12, weight="bold")
    for y, p in zip(ys_c, pillars):
        ax.add_patch(Rectangle((0.3, y - 0.4), 1.8, 0.8, fc="#f4f4f4", ec="k"))
        ax.text(1.2, y, p, ha="center", va="center")
        ax.annotate("", xy=(4.0, 5), xytext=(2.1, y), arrowprops={"arrowstyle": "->"})
        # the label sits on a white box just after the arrow's tail, off the arrow heads
        ax.text(2.55, y + (5 - y) * 0.24, f"{std.get(('RCI', '~', p), np.nan):+.2f}",
                fontsize=9, color=COLORS[0], ha="center", va="center", bbox=label_box)
    for y, v in zip(ys_i, ind):
        ax.add_patch(Rectangle((7.7, y - 0.4), 2.0, 0.8, fc="#f4f4f4", ec="k"))
        ax.text(8.7, y, v, ha="center", va="center", fontsize=8)
        ax.annotate("", xy=(7.7, y), xytext=(6.0, 5), arrowprops={"arrowstyle": "->"})
        ax.text(7.25, 5 + (y - 5) * 0.74, f"{std.get(('RCI', '=~', v), np.nan):+.2f}",
                fontsize=9, color=COLORS[1], ha="center", va="center", bbox=label_box)
    ax.text(5, 3.7, f"ζ: {std.get(('RCI', '~~', 'RCI'), np.nan):.2f}", ha="center", fontsize=8)
    ax.set_title("MIMIC model (standardised estimates)")
    return _save(fig, path)


def rsm_bar(data, path=None):
    rsm = _frame(data["rsm"])
    fig, ax = _figure((5, 3.2))
    ax.bar(rsm["pillar"], rsm["share"], color=COLORS[: len(rsm)])
    signed = rsm["r_signed"] if "r_signed" in rsm else [np.nan] * len(rsm)
    for i, (s, r) in enumerate(zip(rsm["share"], signed)):
        ax.text(i, s + 0.5, f"{s:.1f} %\nr {r:+.2f}", ha="center", fontsize=8)
    ax.set_ylim(0, max(rsm["share"]) * 1.3)
    ax.set_ylabel("share of RCI (%)")
    ax.set_title("Resilience Structure Matrix")
    return _save(fig, path)


def rsm_stacked(var, tab, pillars, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 0.35 * len(tab) + 2), 3.6))
    bottom = np.zeros(len(tab))
    for k, p in enumerate(pillars):
        v = tab[f"rsm_{p}"].to_numpy(dtype=float)
        ax.bar(tab["category"].astype(str), v, bottom=bottom, label=p, color=COLORS[k % 6])
        bottom += np.nan_to_num(v)
    ax.set_ylabel("share of RCI (%)")
    ax.set_title(f"RSM by {var}")
    ax.tick_params(axis="x", rotation=60, labelsize=7)
    ax.legend(fontsize=7, ncols=len(pillars), loc="lower center", bbox_to_anchor=(0.5, 1.08))
    return _save(fig, path)


def histogram(data, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(np.asarray(data["rci_100"]), bins=30, color=COLORS[0], edgecolor="white")
    ax.set_xlabel("RCI_100")
    ax.set_ylabel("households")
    ax.set_title("Distribution of RCI_100")
    return _save(fig, path)


def profile_means(var, tab, path=None):
    fig, ax = _figure((max(5, 0.35 * len(tab) + 2), 3.4))
    x = np.arange(len(tab))
    m = tab["mean_RCI_100"].to_numpy(dtype=float)
    err = np.vstack([m - tab["ci_lower"].to_numpy(dtype=float),
                     tab["ci_upper"].to_numpy(dtype=float) - m])
    ax.errorbar(x, m, yerr=err, fmt="o", color=COLORS[0], capsize=3)
    ax.set_xticks(x, tab["category"].astype(str), rotation=60, fontsize=7)
    ax.set_ylabel("mean RCI_100 (95 % CI)")
    # the whole 0-100 scale: a zoomed axis makes a 2-point gap look like a chasm
    lo = np.nanmin(np.r_[0.0, tab["ci_lower"].to_numpy(dtype=float)])
    hi = np.nanmax(np.r_[100.0, tab["ci_upper"].to_numpy(dtype=float)])
    ax.set_ylim(lo, hi)
    ax.set_xlim(-0.6, len(tab) - 0.4)
    ax.set_title(f"RCI_100 by {var}")
    return _save(fig, path)


def _jobs(data: dict, figdir: Path) -> list:
    """(key, caption, function, arguments) of every figure, in report order."""
    jobs = []
    for name, p in data["pillars"].items():
        jobs.append((f"heatmap_{name}", f"{name}: correlation heat map", heatmap,
                     (name, p, figdir / f"heatmap_{name}.png")))
        jobs.append((f"radar_{name}", f"{name}: corr(variable, pillar)", radar,
                     (name, p, figdir / f"radar_{name}.png")))
    jobs.append(("mimic_path", "MIMIC path diagram", path_diagram,
                 (data, figdir / "mimic_path.png")))
    jobs.append(("rsm", "Resilience Structure Matrix", rsm_bar, (data, figdir / "rsm.png")))
    jobs.append(("rci_100_hist", "RCI_100 distribution", histogram,
                 (data, figdir / "rci_100_hist.png")))
    for var, d in data["profiles"].items():
        tab = _frame(d)
        jobs.append((f"rsm_by_{var}", f"RSM by {var}", rsm_stacked,
                     (var, tab, data["pillar_names"], figdir / f"rsm_by_{var}.png")))
        jobs.append((f"rci_by_{var}", f"Mean RCI_100 by {var}", profile_means,
                     (var, tab, figdir / f"rci_by_{var}.png")))
    return jobs


def _call(job):
    return job[2](*job[3])


def _ready():
    return True


def _worker_start():
    import signal

    # Ctrl-C during a long fit stops the command; idle workers should not each print a
    # KeyboardInterrupt traceback (the parent's exit shuts them down)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pyplot()


def _workers(n_jobs: int) -> int:
    import multiprocessing
    import os

    # Rendering is single-threaded matplotlib work, about 0.1-0.2 s a figure; forked
    # workers share it across cores. Without fork (Windows, macOS defaults) the figures
    # are drawn one after another.
    if n_jobs < 4 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return min(os.cpu_count() or 1, 4)


def _fork_pool(workers, initializer=None):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=initializer)


_started = None  # the workers `workers_started` forked, waiting for make_all


@contextmanager
def workers_started(n_jobs: int = 15):
    """Fork the figure workers now and let each import pyplot (about a second) while the
    block goes on fitting; a `make_all` inside the block hands them its figures, and
    workers it did not take (the fit failed) are shut down at the end of the block.

    Used by the commands that end with a report, before the fit: the process has no
    threads yet (numba starts its pool at the first parallel kernel), so forking is safe,
    and the import runs on the other core instead of after the fit.
    """
    global _started
    workers = _workers(n_jobs)
    if workers > 1 and _started is None:
        _started = _fork_pool(workers, initializer=_worker_start)
        for _ in range(workers):
            _started.submit(_ready)  # forks every worker now, not at the first figure
    try:
        yield
    finally:
        pool, _started = _started, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def make_all(data: dict, figdir: Path) -> dict:
    """{figure key: (caption, path)} in report order; the PNG bytes do not depend on how
    many processes drew them."""
    global _started
    jobs = _jobs(data, figdir)
    pool, _started = _started, None
    workers = _workers(len(jobs))
    if pool is None and workers > 1:
        pyplot()  # import pyplot (and its font cache) once here, not in every worker
        pool = _fork_pool(workers)
    if pool is not None:
        with pool:
            paths = list(pool.map(_call, jobs))
    else:
        paths = [_call(job) for job in jobs]
    return {key: (caption, path) for (key, caption, _, _), path in zip(jobs, paths)}
