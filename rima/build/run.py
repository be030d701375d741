"""The build as the commands and the service use it: build before a fit, validation or
scoring, write the built table with its report, score raw modules with a saved model."""

from __future__ import annotations

from pathlib import Path

from rima.build.engine import BuildResult, build
from rima.errors import RimaInputError


def build_for_spec(spec, data=None, sources=None, fit: bool = True):
    """(built table, spec holding the learned constants, BuildResult) for a spec with
    `[build]`; `data` (a path or DataFrame), when given, is the household table."""
    given = dict(sources or {})
    if data is not None:
        given[spec.build.main] = data
    result = build(spec.build, given, fit=fit)
    return result.table, spec.with_build(result.spec), result


def parse_sources(values) -> dict[str, str]:
    """NAME=PATH pairs (the --source option) as a dict; a name given twice is refused (the
    last one would win without a word)."""
    out = {}
    for v in values or ():
        name, sep, path = str(v).partition("=")
        if not sep or not name.strip() or not path.strip():
            raise RimaInputError(f"--source {v!r}: expected NAME=PATH, e.g. roster=roster.csv")
        name = name.strip()
        if name in out:
            raise RimaInputError(f"--source: source {name!r} is given twice ({name}="
                                 f"{out[name]} and {name}={path.strip()}); give each source "
                                 "once")
        out[name] = path.strip()
    return out


def report_paths(out) -> tuple[Path, Path]:
    """Where the per-household report and the issue list go beside a built table."""
    out = Path(out)
    suffix = "".join(out.suffixes[-2:]) if out.suffix.lower() in (".gz", ".bz2", ".xz", ".zst") \
        else out.suffix
    stem = out.name[: len(out.name) - len(suffix)] if suffix else out.name
    return (out.with_name(f"{stem}_build_report{suffix}"),
            out.with_name(f"{stem}_build_issues{suffix}"))


def write_build(result: BuildResult, out, with_tables=()) -> tuple[Path, Path, Path]:
    """Write the built table, its per-household report and the issue list, all or none
    (`rima.io.write_tables`): a failed build or write leaves the files of an earlier run
    as they were, never a new table beside an old issue list. `with_tables`, (DataFrame,
    path) pairs written with them (the scores of those households), are all or none with
    them."""
    from rima.io import table_format, write_tables
    from rima.labels import build_labels

    out = Path(out)
    fmt = table_format(out, write=True)
    report, issues = report_paths(out)
    # the build's own labels: the report's columns hold statuses, not the variables'
    # values, and the issue list's `status` is not the score table's
    table, rep = result.table, result.report
    if fmt in ("csv", "tsv"):
        # "100001", not "100001.0": a text file's ids as the score table writes them
        from rima.io import whole_numbers_as_integers

        table = table.assign(**{result.id: whole_numbers_as_integers(table[result.id])})
        rep = rep.assign(**{result.id: whole_numbers_as_integers(rep[result.id])})
    write_tables([
        *with_tables,
        (table, out, build_labels("table", table.columns)),
        (rep, report, build_labels("report", rep.columns, result.id)),
        (result.issues, issues, build_labels("issues", result.issues.columns)),
    ])
    return out, report, issues


def needs_build(model, df) -> bool:
    """True when a model with recipes is given a household table that lacks the built
    variables (raw modules); a table already holding all of them is scored as it is."""
    b = getattr(model.spec, "build", None)
    return b is not None and not all(v in df.columns for v in b.variables)


def score_raw(model, sources, data=None):
    """(scores, BuildResult): build the model's variables from raw modules of new
    households with the stored constants, then score them."""
    if model.spec.build is None:
        raise RimaInputError("this model has no [build] recipes; score a household table")
    from rima.build.status import with_build_reasons

    table, _, result = build_for_spec(model.spec, data, sources, fit=False)
    scores = model.score(table)
    scores["status"] = with_build_reasons(scores["status"], result, model.spec.build.main)
    return scores, result
