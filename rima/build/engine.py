"""Run the recipes of a build spec over the source tables: the built table and its report.

`build(spec, sources=None)` reads the household table and the modules (paths from the
spec, or DataFrames / paths given in `sources`), builds every `[build.<variable>]` in
dependency order and returns a `BuildResult`: the household table with the built variables
appended, a per-household report (one status per built variable) and the issue list.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rima.build import status as st
from rima.build.sources import HouseholdIndex, Module, TextValues, numeric
from rima.build.spec import BuildSpec, Recipe
from rima.errors import SpecError
from rima.row_status import text_column


@dataclass
class BuildResult:
    """table: the household table plus the built variables (one row per household, in
    the household table's order); report: id, build_status and one status column per
    built variable; issues: every bad case (variable, status, module, column, household,
    row, value, message); spec: the BuildSpec with learned constants (`fitted`)."""

    table: pd.DataFrame
    report: pd.DataFrame
    issues: pd.DataFrame
    spec: BuildSpec
    variables: tuple[str, ...]
    id: str
    fitted: dict = field(default_factory=dict)

    @property
    def ok(self) -> pd.Series:
        return self.report["build_status"] == st.OK

    def counts(self) -> pd.DataFrame:
        """Households ok / not ok per built variable."""
        rows = []
        for v in self.variables:
            s = self.report[v]
            rows.append({"variable": v, "ok": int((s == st.OK).sum()),
                         "not_ok": int((s != st.OK).sum())})
        return pd.DataFrame(rows)

    def summary(self) -> str:
        n = len(self.table)
        lines = [(f"built {len(self.variables)} variable(s) for {n:,} household(s); "
                  f"{int(self.ok.sum()):,} with every variable ok")]
        for v in self.variables:
            s = self.report[v]
            bad = s[s != st.OK]
            line = f"  {v}: {n - len(bad):,} ok"
            if len(bad):
                top = bad.value_counts().head(3)
                line += "; " + "; ".join(f"{int(c):,} {r}" for r, c in top.items() if c)
            lines.append(line)
        if len(self.issues):
            by = self.issues.groupby(["status", "module"], sort=True).size()
            lines.append(f"{len(self.issues):,} issue(s) listed by module, column, household "
                         "and source row:")
            for (kind, module), c in by.items():
                lines.append(f"  {c:,} {kind}" + (f" ({module})" if module else ""))
        return "\n".join(lines)


class BuildContext:
    """What recipes see: the household table, the modules, the variables built so far."""

    def __init__(self, spec: BuildSpec, frames: Mapping[str, pd.DataFrame], fit: bool):
        self.spec = spec
        self.fit = fit
        # the household table's own issues, then each recipe's log (`recipe_log`)
        self.base_log = st.IssueLog()
        self._local = threading.local()
        self._module_locks: dict[str, threading.Lock] = {}
        self._frames = frames
        main = spec.sources[spec.main]
        hh = frames[spec.main]
        if main.key not in hh.columns:
            raise SpecError(f"household table {spec.main}: no household key column "
                            f"{main.key!r}")
        self.households = hh
        self.key = main.key
        self.index = HouseholdIndex(hh[main.key], spec.main)
        self.n = len(hh)
        self.ids = hh[main.key].to_numpy()
        self.modules: dict[str, Module] = {}
        self.built: dict[str, object] = {}
        self.status: dict[str, st.VariableStatus] = {}
        self.fitted: dict[str, dict] = {}
        # each variable's (table column, report column)
        self.columns: dict[str, tuple[pd.Series, pd.Categorical]] = {}
        self.cache: dict = {}
        # text variables held as (labels, index of each household's label or -1), so
        # that the table's text column is one take from the labels
        self.text: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._base = []
        for mask, kind, msg in ((self.index.missing, st.MISSING_KEY, "household without an id"),
                                (self.index.repeated, st.DUPLICATE_HOUSEHOLD,
                                 "household id repeated in the household table")):
            if mask.any():
                self._base.append((mask, f"{msg}"))
                rows = np.flatnonzero(mask)
                self.base_log.add(variable="", status=kind, module=spec.main,
                                  column=main.key, households=self.ids[rows], rows=rows + 1,
                                  values=self.ids[rows], message=msg + " (not built)")

    @property
    def issues(self) -> st.IssueLog:
        """The issue log of the recipe this thread is running (the base log outside one)."""
        log = getattr(self._local, "log", None)
        return self.base_log if log is None else log

    @contextmanager
    def recipe_log(self, log: st.IssueLog):
        """Issues found in this thread inside the block go to `log`."""
        before = getattr(self._local, "log", None)
        self._local.log = log
        try:
            yield log
        finally:
            self._local.log = before

    def new_status(self, variable: str) -> st.VariableStatus:
        vs = st.VariableStatus(variable, self.n)
        for mask, reason in self._base:
            vs.flag(mask, reason)
        return vs

    def module(self, name: str) -> Module:
        """The module `name`, made once (one recipe at a time makes a given module); its
        rows left out are listed in the calling recipe's log."""
        mod = self.modules.get(name)
        if mod is None:
            if name not in self._frames:
                raise SpecError(f"source {name!r} is not in [sources]")
            with self._module_locks.setdefault(name, threading.Lock()):
                mod = self.modules.get(name)
                if mod is None:
                    src = self.spec.sources[name]
                    mod = self.modules[name] = Module(
                        name, self._frames[name], src.key, src.missing_codes, self.index,
                        lambda: self.issues, main=name == self.spec.main)
        for issue in mod.orphan_issues:
            self.issues.add(**issue)
        return mod

    def release(self, name: str) -> None:
        """Forget module `name` and what was kept from it (cache keys name their source
        second): no later recipe reads it."""
        self.modules.pop(name, None)
        # list(...) takes the keys at once: recipes of other modules may add keys meanwhile
        for key in [k for k in list(self.cache) if isinstance(k, tuple) and len(k) > 1
                    and k[1] == name]:
            self.cache.pop(key, None)

    # -- household-level values
    def raw(self, name: str, where: str):
        """A built variable or household-table column as it is (for groups and recodes)."""
        if name in self.built:
            v = self.built[name]
            if isinstance(v, TextValues):
                return v.array()
            return v if isinstance(v, pd.Categorical) else np.asarray(v)
        if name in self.households.columns:
            return self.households[name].to_numpy()
        raise SpecError(f"{where}: {name!r} is neither a built variable nor a column of the "
                        f"household table {self.spec.main}"
                        + _near(name, [*self.built, *self.households.columns]))

    def value(self, name: str, vs: st.VariableStatus, where: str) -> np.ndarray:
        """A household-level number per household; a built input that is not ok passes
        its reason on (`input <name>: <reason>`), a missing household value is flagged."""
        if name in self.built:
            v = self.built[name]
            if isinstance(v, pd.Categorical):
                raise SpecError(f"{where}: {name!r} is a class, not a number")
            if isinstance(v, TextValues) or (isinstance(v, np.ndarray) and v.dtype == object):
                raise SpecError(f"{where}: {name!r} is a text variable (recipe "
                                f"{self.spec.recipe(name).recipe}), not a number")
            x = np.asarray(v, dtype=np.float64)
            vs.inherit(self.status[name], name)
            return x
        main = self.module(self.spec.main)
        x = main.number(name, where, vs.name) if name in self.households.columns else None
        if x is None:
            self.raw(name, where)  # raises with near matches
        self.flag_cells(vs, main, name, np.isnan(x), x, self._rows(), st.MISSING_VALUE,
                        f"missing value in {self.spec.main}.{name}")
        self.flag_cells(vs, main, name, np.isinf(x), x, self._rows(), st.OUT_OF_RANGE,
                        f"infinite value in {self.spec.main}.{name}")
        return x

    def _rows(self) -> np.ndarray:
        """0 .. n - 1: each household's own row of the household table (made once)."""
        if "arange" not in self.cache:
            self.cache["arange"] = np.arange(self.n)
        return self.cache["arange"]

    # -- one-row-per-household modules
    def wide(self, source: str, columns, vs: st.VariableStatus, where: str):
        """(X (k, n) values of `columns` per household, NaN where missing or no row;
        pos (n,) the module row of each household or -1; module)."""
        mod = self.module(source)
        for c in columns:
            mod.require(c, where)
        if mod.aligned(self.n):
            # one row per household in household order: the columns are the values (kept
            # for other variables reading the same columns)
            key = ("wide", source, tuple(columns))
            if key not in self.cache:
                X = np.empty((len(columns), self.n))
                for j, c in enumerate(columns):
                    mod.number_into(c, X[j], where, vs.name)
                self.cache[key] = X
            return self.cache[key], self._rows(), mod
        pos = self._wide_rows(mod, vs)
        X = np.full((len(columns), self.n), np.nan)
        have = np.flatnonzero(pos >= 0)
        for j, c in enumerate(columns):
            X[j, have] = mod.number(c, where, vs.name)[pos[have]]
        return X, pos, mod

    def _wide_rows(self, mod: Module, vs: st.VariableStatus) -> np.ndarray:
        """The module row of each household (-1: none) of a module that is not aligned
        with the household table; households without a row or with several are flagged."""
        pos, rows = mod.household_rows(self.n)
        if not mod.main:
            source = mod.name
            none = pos < 0
            vs.flag(none, f"{st.NO_ROW} {source}")
            self._household_issue(vs.name, st.NO_ROW, source, "", none,
                                  f"household has no row in {source}")
            dup = rows > 1
            vs.flag(dup, f"{st.DUPLICATE_ROWS} {source}")
            self._household_issue(vs.name, st.DUPLICATE_ROWS, source, "", dup,
                                  f"household has {'several'} rows in {source}")
        return pos

    def wide_sum(self, source: str, columns, weights, vs: st.VariableStatus, where: str,
                 kind: int = 0, top: float = 0.0):
        """Weighted sum of `columns` per household without a (k, n) matrix: (sum, NaN
        where a value is missing or the household has no row; counts (k, 3) of the
        cells the checks of `kind` flag, as `wide_counts`; pos, the module row of each
        household or -1; module). Each household's sum adds the columns in their order;
        the columns are read by row ranges on the available threads, so a range's sums
        stay in the cache from one column to the next. Kept for other variables summing
        the same columns."""
        from rima._kernels.build import wide_add
        from rima._kernels.threads import row_ranges, run_ranges

        mod = self.module(source)
        for c in columns:
            mod.require(c, where)
        aligned = mod.aligned(self.n)
        if aligned:
            pos = self._rows()
        else:
            pos = self._wide_rows(mod, vs)
        key = ("wide_sum", source, tuple(columns), tuple(map(float, weights)), kind,
               float(top))
        if key not in self.cache:
            total = np.empty(self.n)
            stored = [mod.values(c, where, vs.name) for c in columns]
            ranges = row_ranges(self.n)
            counts = np.zeros((len(ranges), len(columns), 3), dtype=np.int64)

            def add_columns(i, a, b):
                sums = total[a:b]
                sums.fill(0.0)
                for j, (x, miss) in enumerate(stored):
                    wide_add(sums, x[a:b] if aligned else x, miss, pos[a:b], aligned,
                             float(weights[j]), kind, float(top), counts[i, j])

            run_ranges(add_columns, self.n, ranges)
            self.cache[key] = (total, counts.sum(axis=0))
        total, counts = self.cache[key]
        return total, counts, pos, mod

    def wide_column(self, mod: Module, pos, column: str, where: str) -> np.ndarray:
        """One column's value per household (NaN where missing or no row), for listing
        its bad cells."""
        x = np.full(self.n, np.nan)
        have = np.flatnonzero(pos >= 0)
        x[have] = mod.number(column, where)[pos[have]]
        return x

    def flag_cells(self, vs, mod: Module, column: str, bad_hh: np.ndarray, x, pos,
                   kind: str, message: str) -> None:
        """Flag households whose cell is bad and list each cell (module row, value)."""
        bad = bad_hh & (pos >= 0) if pos is not None else bad_hh
        if not bad.any():
            return
        vs.flag(bad, message)
        idx = np.flatnonzero(bad)
        rows = pos[idx] + 1 if pos is not None else np.zeros(idx.size, np.int64)
        self.issues.add(variable=vs.name, status=kind, module=mod.name, column=column,
                        households=self.ids[idx], rows=rows, values=np.asarray(x)[idx],
                        message=message)

    def flag_rows(self, vs, mod: Module, column: str, bad_rows: np.ndarray, kind: str,
                  message: str, values=None) -> None:
        """Flag the households of bad module rows and list each row."""
        rows = np.flatnonzero(bad_rows & (mod.codes >= 0))
        if rows.size == 0:
            return
        vs.flag(np.unique(mod.codes[rows]), message)
        vals = mod.df[column].to_numpy()[rows] if values is None else np.asarray(values)[rows]
        self.issues.add(variable=vs.name, status=kind, module=mod.name, column=column,
                        households=mod.df[mod.key].to_numpy()[rows], rows=rows + 1,
                        values=vals, message=message)

    def flag_households(self, vs, mask: np.ndarray, kind: str, module: str, message: str,
                        column: str = "") -> None:
        """Flag households for a reason found on the household as a whole (row = the
        household table row); a household already flagged for this variable is not listed
        again for a consequence of its first reason."""
        if not vs.clean:
            mask = mask & vs.ok
        if not mask.any():
            return
        vs.flag(mask, message)
        self._household_issue(vs.name, kind, module, column, mask, message)

    def _household_issue(self, variable, kind, module, column, mask, message):
        idx = np.flatnonzero(mask)
        if idx.size:
            self.issues.add(variable=variable, status=kind, module=module, column=column,
                            households=self.ids[idx], rows=idx + 1, values=None,
                            message=message + f" (row = {self.spec.main} row)")


# From this many households the recipes of different modules run side by side in two
# threads; below it, one after another. Measured on the 2-core development machine
# (the raw Zavkhan spec, medians, alternating): 100,000 households 18 ms one by one
# against 20 ms side by side; 300,000: 42 and 42 ms; 1,000,000: 134-145 against 111-121.
PARALLEL_HOUSEHOLDS = 300_000


def build(spec, sources=None, *, fit: bool = True) -> BuildResult:
    """Build the `[build]` variables of `spec` (a Spec, BuildSpec, TOML path or dict).

    sources : {name: DataFrame or path} replacing or adding to the spec's `[sources]`
    fit : learn constants (asset index weights, winsorising cut points) from these data
        where the recipes have none stored; False requires stored ones (scoring).

    The recipes reading one module run in the spec's order, one after another (they
    share that module's passes); those of different modules may run side by side, each
    once the variables it reads are built. Every recipe keeps its own issue log, joined
    in the spec's order, and a failing build raises the error of the first recipe in the
    spec's order that fails, so the result is the same as running them one by one.
    """
    bspec = _build_spec(spec)
    # scoring new households never falls back on the training files named in the spec
    frames = read_sources(bspec, sources, require_given=not fit)
    ctx = BuildContext(bspec, frames, fit)
    plan = _Plan(bspec)
    logs = [st.IssueLog() for _ in bspec.recipes]
    from rima._kernels.threads import num_threads

    if ctx.n >= PARALLEL_HOUSEHOLDS and num_threads() > 1 and len(bspec.recipes) > 1:
        _run_side_by_side(ctx, bspec, plan, logs)
    else:
        for i in range(len(bspec.recipes)):
            _run_recipe(ctx, bspec, i, logs[i])
            plan.finished(ctx, i)
    ctx.fitted = {r.variable: ctx.fitted[r.variable] for r in bspec.recipes
                  if r.variable in ctx.fitted}
    return _result(ctx, bspec, st.IssueLog.joined([ctx.base_log, *logs]))


class _Plan:
    """The order constraints of a build's recipes: `after[i]`, the recipes i waits for
    (the built variables it reads, and the recipe before it reading the same module);
    each module's readers, so that it is let go when the last one finishes (its row
    positions and kept passes free memory that later recipes reuse)."""

    def __init__(self, bspec: BuildSpec):
        from rima.build.catalog import variable_inputs

        index = {r.variable: i for i, r in enumerate(bspec.recipes)}
        last_of_chain: dict[str, int] = {}
        self.after: list[set[int]] = []
        self.readers: dict[str, set[int]] = {}
        for i, r in enumerate(bspec.recipes):
            deps = {index[v] for v in variable_inputs(r.recipe, dict(r.options))
                    if v in index and index[v] != i}
            source = r.options.get("source")
            chain = source if source and source != bspec.main else bspec.main
            if chain in last_of_chain:
                deps.add(last_of_chain[chain])
            last_of_chain[chain] = i
            self.after.append(deps)
            for k in ("source", "own_source"):
                name = r.options.get(k)
                if name and name != bspec.main:
                    self.readers.setdefault(name, set()).add(i)

    def finished(self, ctx: BuildContext, i: int) -> None:
        """Recipe i is done: let go the modules nobody else is to read."""
        for name in [m for m, readers in self.readers.items() if i in readers]:
            self.readers[name].discard(i)
            if not self.readers[name]:
                del self.readers[name]
                ctx.release(name)


def _run_recipe(ctx: BuildContext, bspec: BuildSpec, i: int, log: st.IssueLog) -> None:
    from rima.build.recipes import RECIPE_FUNCTIONS

    r = bspec.recipes[i]
    if r.variable == "build_status":
        raise SpecError(f"[build.{r.variable}]: build_status is the report's column of "
                        "each household's overall status; choose another name")
    if r.variable in ctx.households.columns:
        raise SpecError(f"[build.{r.variable}]: {r.variable!r} is already a column of the "
                        f"household table {bspec.main}; choose another name")
    with ctx.recipe_log(log):
        vs = ctx.new_status(r.variable)
        values = RECIPE_FUNCTIONS[r.recipe](ctx, r, vs)
        _flag_not_finite(ctx, r, vs, values)
    if isinstance(values, TextValues):
        ctx.text[r.variable] = (values.labels, values.idx)
        if not vs.clean:
            values = values.array()
    ctx.built[r.variable] = values if vs.clean else _blank_bad(values, vs.ok)
    ctx.status[r.variable] = vs
    # the variable's table column and report column, made here: beside the other recipes
    ctx.columns[r.variable] = (_column(ctx, r.variable, ctx.built[r.variable],
                                       ctx.households.index), vs.strings())


def _flag_not_finite(ctx: BuildContext, recipe, vs: st.VariableStatus, values) -> None:
    """A value that is NaN or infinite is never "ok": where a recipe's own checks let one
    through (an infinite cell it does not look at, a sum or product too large for a
    float), the household gets this status instead, and its value is left blank."""
    if not (isinstance(values, np.ndarray) and values.dtype.kind == "f"):
        return
    from rima._kernels.build import count_not_finite

    codes = vs.codes[:0] if vs.clean else vs.codes
    if count_not_finite(values, codes):
        ctx.flag_households(vs, ~np.isfinite(values), st.NOT_FINITE, "",
                            f"{recipe.variable} is not a finite number (an infinite input "
                            "value, or a result too large)")


def _run_side_by_side(ctx: BuildContext, bspec: BuildSpec, plan: _Plan, logs) -> None:
    """The recipes on this thread and one more: this thread takes the first recipe in the
    spec's order whose constraints are met, the other the last one. A module's recipes
    then mostly follow one another on one thread, and the two threads work from both
    ends of the spec towards its middle, so neither is left alone with a long chain of
    the spec's last recipes at the end (a 1M build: 102-105 ms against 105-109 ms
    taking the first recipe on both). Each side's kernels take the threads
    `side_threads` gives it, half of them while the other side runs a recipe. After a
    failure only the recipes before the failing one still start; the first failure in
    the spec's order is raised."""
    from rima._kernels.threads import num_threads, threads_at_most

    n = len(bspec.recipes)
    started: set[int] = set()
    done: set[int] = set()
    failed: dict[int, BaseException] = {}
    cond = threading.Condition()

    def next_recipe(order):
        for i in order(range(min(failed, default=n))):
            if i not in started and plan.after[i] <= done:
                return i
        return None

    idle = [False, False]  # this side, the helper's: waiting for a recipe or done

    def work(order, side):
        with threads_at_most(lambda: side_threads(side, idle[1 - side], num_threads())):
            while True:
                with cond:
                    while (i := next_recipe(order)) is None:
                        idle[side] = True
                        if len(started) == len(done) + len(failed):  # none left running
                            cond.notify_all()
                            return
                        cond.wait()
                    idle[side] = False
                    started.add(i)
                try:
                    _run_recipe(ctx, bspec, i, logs[i])
                except BaseException as exc:  # noqa: BLE001 - raised below, in spec order
                    with cond:
                        failed[i] = exc
                        cond.notify_all()
                    continue
                with cond:
                    done.add(i)
                    plan.finished(ctx, i)
                    cond.notify_all()

    helper = threading.Thread(target=work, args=(reversed, 1), name="rima-build",
                              daemon=True)
    helper.start()
    work(iter, 0)
    helper.join()
    if failed:
        raise failed[min(failed)]


def side_threads(side: int, other_idle: bool, n: int) -> int:
    """The threads the kernels of side 0 (the calling thread) or 1 (the helper) of a
    build side by side may use: all n while the other side waits for a recipe or is
    done, else half (an odd one to side 0). On two cores a kernel's helper thread would
    only take turns with the other side's recipe (a 1M build: 106 and 109 ms against 112
    and 116 ms with every kernel on both threads); a side left alone at the end uses both
    (89.7 against 91.1 ms, 94.8 against 96.3 ms and 99.3 against 104.0 ms, medians of 20
    to 30 builds alternating)."""
    if other_idle:
        return n
    return n - n // 2 if side == 0 else max(1, n // 2)


def _blank_bad(values, ok):
    if ok.all():
        return values
    if isinstance(values, pd.Categorical):
        codes = np.where(ok, values.codes, -1)
        return pd.Categorical.from_codes(codes, dtype=values.dtype)
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return np.where(ok, values, np.nan)
    out = values.astype(object)
    out[~ok] = None
    return out


def _result(ctx: BuildContext, bspec: BuildSpec, issue_log: st.IssueLog) -> BuildResult:
    from rima._kernels.build import first_status, zeros

    table = ctx.households
    # overall status: the first variable's reason, as codes into "variable: reason" labels
    overall = zeros(ctx.n, dtype=np.int32)
    labels = [st.OK]
    for r in bspec.recipes:
        v = r.variable
        vs = ctx.status[v]
        if vs.reasons and first_status(overall, vs.codes, len(labels) - 1):
            labels.extend(f"{v}: {reason}" for reason in vs.reasons)
    variables = [r.variable for r in bspec.recipes]
    # one Series per variable: concatenating them keeps each array as it is (no 2-D block)
    table = pd.concat([table, *(ctx.columns[v][0] for v in variables)], axis=1)
    # the status columns are this build's own arrays: taken as they are (the ids are a
    # view of the household table, copied)
    report = pd.DataFrame({ctx.key: np.array(ctx.ids, copy=True),
                           "build_status": pd.Categorical.from_codes(overall, categories=labels),
                           **{v: ctx.columns[v][1] for v in variables}}, copy=False)
    issues = issue_log.frame()
    spec = bspec.with_fitted(ctx.fitted) if ctx.fitted else bspec
    return BuildResult(table=table, report=report, issues=issues, spec=spec,
                       variables=bspec.variables, id=ctx.key, fitted=dict(ctx.fitted))


def _column(ctx: BuildContext, name: str, values, index) -> pd.Series:
    """A built variable as a column of the table; a text variable held as labels and
    codes is taken from its labels (the text column pandas makes of the values, without
    converting each household's text)."""
    if name in ctx.text:
        labels, idx = ctx.text[name]
        if not ctx.status[name].clean:
            idx = np.where(ctx.status[name].ok, idx, -1)
        if (idx >= 0).any() and all(isinstance(v, str) for v in labels if v is not None):
            text = text_column(labels, idx)
            if not isinstance(text, np.ndarray):  # pandas' text type
                return pd.Series(text, name=name, index=index)
    if isinstance(values, TextValues):
        values = values.array()
    return pd.Series(values, name=name, index=index, copy=False)


def _build_spec(spec) -> BuildSpec:
    if isinstance(spec, BuildSpec):
        return spec
    from rima.spec import Spec, load_spec

    s = spec if isinstance(spec, Spec) else load_spec(spec)
    if s.build is None:
        raise SpecError("the spec has no [sources] and [build] tables to build from")
    return s.build


def read_sources(bspec: BuildSpec, given=None, require_given: bool = False
                 ) -> dict[str, pd.DataFrame]:
    """{source name: DataFrame} from the spec's paths and `given` overrides; only the
    sources the recipes use (and the household table) are read. With `require_given`,
    every one of them must be given (new households' modules, not the spec's files)."""
    from rima.io import read_table

    given = dict(given or {})
    unknown = [k for k in given if k not in bspec.sources]
    if unknown:
        raise SpecError(f"source(s) {', '.join(map(str, unknown))} not in [sources] (known: "
                        f"{', '.join(bspec.sources)})")
    used = {bspec.main}
    for r in bspec.recipes:
        for k in ("source", "own_source"):
            if r.options.get(k):
                used.add(r.options[k])
    if require_given:
        absent = [s for s in bspec.sources if s in used and s not in given]
        if absent:
            raise SpecError("give the new households' module(s) " + ", ".join(absent)
                            + " (e.g. --source " + absent[0] + "=PATH); the model's recipes "
                            "read them")
    frames = {}
    for name in bspec.sources:
        if name not in used:
            continue
        src = bspec.sources[name]
        x = given.get(name, src.path)
        if isinstance(x, pd.DataFrame):
            df = x
        elif x is None:
            raise SpecError(f"source {name}: no file given (set a path in [sources] or pass it)")
        else:
            df = read_table(Path(x), sheet=src.sheet)
        df = df.copy(deep=False)
        df.columns = [str(c) for c in df.columns]
        frames[name] = df.reset_index(drop=True)
    return frames


def _near(name, names) -> str:
    from rima.suggest import did_you_mean

    return did_you_mean(name, list(map(str, names)))


__all__ = ["BuildResult", "Recipe", "build", "numeric", "read_sources"]
