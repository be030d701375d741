"""`rima score DATA --model model.json --out FILE`: score new households with a saved model."""

import click

from rima.commands._input import engine_options, input_options, input_settings


@click.command("score")
@click.argument("data", type=click.Path(), required=False)
@click.option("--model", "model_path", type=click.Path(dir_okay=False), required=True,
              help="model.json written by `rima fit`.")
@click.option("--out", "out_path", type=click.Path(), required=True,
              help="Output table; the format follows the extension (.csv, .parquet, .dta); "
                   "with --engine dask a directory of Parquet partitions.")
@input_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--source", "sources", multiple=True, metavar="NAME=PATH",
              help="Raw module NAME of the new households (repeatable): the model's "
                   "[build] recipes build its variables first, with the stored constants.")
@click.option("--batch-rows", type=click.IntRange(1), default=None,
              help="Stream CSV/TSV/Parquet in batches of this many rows (flat memory); "
                   "inputs over 256 MiB are streamed anyway.")
@click.option("--keep", default=None,
              help="Input columns to carry into the output after the id, comma-separated "
                   "(e.g. soum,head_sex).")
@click.option("--max-rows", default=10, show_default=True, type=click.IntRange(min=0),
              help="Row numbers printed per reason in the row accounting.")
@engine_options("dask: DATA is a directory or glob of Parquet/CSV partitions and OUT a "
                "directory of Parquet partitions (part-00000.parquet, ...).")
@click.option("--trusted-key", "trusted_keys", multiple=True,
              type=click.Path(dir_okay=False, exists=True),
              help="Require the model to be signed by this key (Ed25519 public key or HMAC "
                   "secret; repeat for several). See `rima sign`.")
def command(data, model_path, out_path, as_json, sources, batch_rows, keep, max_rows, engine,
            scheduler, workers, trusted_keys):
    """Score the households in DATA on the saved model's training scale.

    A model fitted from raw modules ([sources] and [build]) builds the variables of new
    households from their modules first: DATA is then their household table and --source
    NAME=PATH gives each module (a DATA that already holds every built variable is scored
    as it is). The build report and issue list are written beside the output.

    Every row is written: scored, or with its status saying why not (a missing value, or a
    cell that is not a number, named with its column and value). The resilience class
    (low / medium / high thirds of RCI_100, rima.classes) is written beside RCI_100, as the
    HTTP service answers. RCI_100 outside 0-100 (a household beyond the training range) is
    kept and flagged in the out_of_range column, never clipped.
    """
    import json

    from rima.classes import ClassScheme, class_labels
    from rima.io import read_table, refuse_overwrite, write_table
    from rima.model_file import load

    if engine == "dask" and sources:
        # the partitioned scorer reads built variables only: the modules would be ignored
        raise click.BadParameter(
            "raw modules are not built with --engine dask; build the households' variables "
            "first (`rima build`, or `rima score` without --engine dask) and score the "
            "built partitions", param_hint="--source")
    refuse_overwrite([out_path], [data, model_path])
    model = load(model_path, trusted_keys=trusted_keys or None)
    keep_cols = [c.strip() for c in keep.split(",") if c.strip()] if keep else []
    from rima.score_table import CLASS, OUT_OF_RANGE, STATUS, value_columns

    taken = [c for c in keep_cols if c in {*value_columns(model.spec.pillar_names), CLASS,
                                           STATUS, OUT_OF_RANGE}]
    if taken:
        # the score's own column would stand in its place, the data's dropped unseen
        raise click.BadParameter(f"{', '.join(taken)}: the scores have a column of that "
                                 "name; rename the data's column to keep it",
                                 param_hint="--keep")
    classes = ClassScheme()
    read = input_settings(model.spec)
    raw = None if engine == "dask" else _raw_input(model, data, read, sources)
    if engine == "dask":
        if data is None:
            raise click.UsageError("DATA (a directory or glob of partitions) is required "
                                   "with --engine dask")
        from rima.errors import RimaInputError
        from rima.io import table_format

        try:
            table_format(out_path, write=True)
        except RimaInputError:
            pass  # no table's extension: the folder of parts
        else:
            raise click.BadParameter(
                f"{out_path}: --engine dask writes a folder of Parquet parts, one per "
                "partition; give a folder name without a table's extension",
                param_hint="--out")
        from rima.scale_out import cluster, score_partitions

        _check_partitions_built(model, data)
        with cluster(scheduler, workers):
            rows, scored, oor, counts = score_partitions(model, data, out_path,
                                                         classes=classes, keep=keep_cols)
        info = {"rows": rows, "scored": scored, "out_of_range": oor, "out": str(out_path),
                "accounting": _accounting(counts)}
        rows_of = None
    elif raw is not None:
        from rima.build.run import report_paths, score_raw, write_build

        beside = _beside(out_path)
        refuse_overwrite([out_path, beside, *report_paths(beside)],
                         [data, model_path, *raw[1].values(),
                          *(s.path for s in model.spec.build.sources.values())])
        scores, built = score_raw(model, raw[1], raw[0])
        ok = scores["status"] == "ok"
        at = scores.columns.get_loc("RCI_100") + 1
        scores.insert(at, "class", class_labels(classes, scores["RCI_100"], ok.to_numpy()))
        for j, c in enumerate(c for c in keep_cols if c not in scores.columns):
            scores.insert(1 + j, c, built.table[c].to_numpy())
        # the scores and the build's files all or none
        _, report, issues = write_build(built, beside, with_tables=[
            (_as_text_output(scores, out_path, [model.id, *keep_cols]), out_path)])
        counts = scores["status"].value_counts(sort=False).to_dict()
        info = {"rows": len(scores), "scored": int(ok.sum()),
                "out_of_range": int(scores["out_of_range"].sum()),
                "rci_100_mean": float(scores.loc[ok, "RCI_100"].mean()) if ok.any() else None,
                "out": str(out_path), "accounting": _accounting(counts),
                "build_report": str(report), "build_issues": str(issues),
                "build_issues_count": len(built.issues)}
        status = scores["status"].to_numpy()
        rows_of = lambda reason: (status == reason).nonzero()[0] + 1
    elif data is None:
        raise click.UsageError("DATA is required (or --source for a model with [build])")
    elif _stream(data, out_path, read, batch_rows):
        from rima.streaming import DEFAULT_BATCH_ROWS, score_file

        s = score_file(model, data, out_path, batch_rows=batch_rows or DEFAULT_BATCH_ROWS,
                       keep=keep_cols, classes=classes)
        info = {"rows": s.rows, "scored": s.scored, "out_of_range": s.out_of_range,
                "rci_100_mean": s.rci_100_mean, "out": str(out_path),
                "batches": s.batches, "accounting": _accounting(s.status_counts),
                # the first 1,000 are listed; n_bad_cells counts them all
                "n_bad_cells": s.n_bad_cells,
                "bad_cells": [{"row": r, "column": c, "value": v} for r, c, v in s.bad_cells]}
        rows_of = None
        for r, c, v in s.bad_cells[:20]:
            click.echo(f"row {r:,}: non-numeric value {v!r} in {c} (not scored)", err=True)
    else:
        df = read_table(data, **read)
        if not len(df):  # as the streamed path says (a header and no households)
            from rima.errors import DataError

            raise DataError(f"{data}: no data rows to score")
        _check_keep(df, keep_cols, data)
        scores = model.score(df)
        ok = scores["status"] == "ok"
        at = scores.columns.get_loc("RCI_100") + 1
        scores.insert(at, "class", class_labels(classes, scores["RCI_100"], ok.to_numpy()))
        for j, c in enumerate(c for c in keep_cols if c not in scores.columns):
            scores.insert(1 + j, c, df[c].to_numpy())
        write_table(_as_text_output(scores, out_path, [model.id, *keep_cols]), out_path)
        counts = scores["status"].value_counts(sort=False).to_dict()
        info = {"rows": len(scores), "scored": int(ok.sum()),
                "out_of_range": int(scores["out_of_range"].sum()),
                "rci_100_mean": float(scores.loc[ok, "RCI_100"].mean()) if ok.any() else None,
                "out": str(out_path), "accounting": _accounting(counts)}
        status = scores["status"].to_numpy()
        rows_of = lambda reason: (status == reason).nonzero()[0] + 1
    if as_json:
        click.echo(json.dumps(info, indent=1, default=str))
    else:
        click.echo(f"{info['scored']} of {info['rows']} households scored "
                   f"({info['out_of_range']} outside the training range 0-100, kept); "
                   f"written to {out_path}")
        click.echo(_accounting_text(info, rows_of, max_rows))


def _as_text_output(scores, out_path, carried):
    """For a CSV/TSV output, the id and kept columns as the streamed writer shows them
    (`rima.io.whole_numbers_as_integers`), so both paths write the same bytes."""
    from rima.io import table_format, whole_numbers_as_integers

    if table_format(out_path, write=True) not in ("csv", "tsv"):
        return scores
    out = scores.copy(deep=False)
    for c in dict.fromkeys(carried):
        if c in out.columns:
            out[c] = whole_numbers_as_integers(out[c])
    return out


def _check_keep(df, keep_cols, data):
    from rima.errors import DataError
    from rima.suggest import did_you_mean

    missing = [c for c in keep_cols if c not in df.columns]
    if missing:
        cols = [str(c) for c in df.columns]
        raise DataError(f"{data}: --keep names column(s) the data lacks: "
                        + "; ".join(f"{c}{did_you_mean(c, cols)}" for c in missing))


def _accounting(counts: dict) -> list:
    """[{status, rows}], scored first, then the reasons by frequency (as `rima validate`)."""
    ok = [{"status": "ok", "rows": int(counts["ok"])}] if counts.get("ok") else []
    rest = sorted(((s, int(n)) for s, n in counts.items() if s != "ok" and n),
                  key=lambda t: (-t[1], t[0]))
    return ok + [{"status": s, "rows": n} for s, n in rest]


def _accounting_text(info, rows_of, max_rows) -> str:
    """The row accounting as `rima validate` prints it: each reason, its count, its rows."""
    lines = ["Row accounting", f"  scored: {info['scored']} of {info['rows']} rows"]
    for rec in info["accounting"]:
        if rec["status"] == "ok":
            continue
        text = f"  {rec['rows']:>6}  {rec['status']}"
        if rows_of is not None:
            hit = rows_of(rec["status"])
            shown = ", ".join(map(str, hit[:max_rows]))
            more = f", … ({len(hit) - max_rows} more)" if len(hit) > max_rows else ""
            text += f": {'rows' if len(hit) > 1 else 'row'} {shown}{more}"
        lines.append(text)
    return "\n".join(lines)


STREAM_ABOVE_BYTES = 256 * 2**20


def _raw_input(model, data, read, sources):
    """(household table or None, {module: path}) when the model builds from raw modules."""
    from rima.build.run import needs_build, parse_sources
    from rima.io import read_table

    given = parse_sources(sources)
    if getattr(model.spec, "build", None) is None:
        if given:
            raise click.BadParameter("this model has no [build] recipes",
                                     param_hint="--source")
        return None
    main = model.spec.build.main
    if data is not None and main in given:
        # DATA is the household table: the other one would be left out without a word
        raise click.BadParameter(
            f"{main}={given[main]} and DATA ({data}) both give the household table "
            f"{main!r}; give it once, as DATA or as --source {main}=PATH",
            param_hint="--source")
    df = None
    if data is not None:
        df = read_table(data, **read)
        if not given and not needs_build(model, df):
            return None
    return df, given


def _check_partitions_built(model, data):
    """With --engine dask, a model that builds its variables from raw modules needs
    partitions that already hold them (the partitioned scorer builds nothing): a DataError
    naming the built variables the first partition lacks, before any worker starts (each
    worker would fail on its partition with a list of missing columns)."""
    from rima.errors import DataError
    from rima.scale_out import partitions

    b = getattr(model.spec, "build", None)
    if b is None:
        return
    first = partitions(data)[0][0]
    try:
        if str(first).lower().endswith((".parquet", ".pq")):
            import pyarrow.parquet as pq

            cols = set(pq.read_schema(first).names)
        else:
            import pandas as pd

            cols = set(map(str, pd.read_csv(first, nrows=0).columns))
    except Exception:  # noqa: BLE001 - an unreadable partition is reported by the scorer
        return
    lacking = [c for c in model.required_columns if c in b.variables and c not in cols]
    if lacking:
        raise DataError(
            f"{first}: lacks {len(lacking)} variable(s) the model builds from raw modules "
            f"({', '.join(lacking)}); --engine dask scores partitions that already hold them: "
            "build them first (`rima build`), or score the household table in memory with "
            "--source NAME=PATH for each module")


def _beside(out_path):
    """The built table's name beside the scores (its report and issues derive from it)."""
    from pathlib import Path

    p = Path(out_path)
    return p.with_name(p.name.replace(p.stem, p.stem + "_households", 1))


def _stream(data, out_path, read, batch_rows):
    """Stream when asked (--batch-rows) or when a large CSV/TSV/Parquet goes to one."""
    from pathlib import Path

    from rima.io import table_format

    try:
        fin, fout = table_format(data), table_format(out_path, write=True)
    except Exception:  # noqa: BLE001 - the in-memory path reports the format error
        return False
    streamable = {"csv", "tsv", "parquet"}
    # the streaming reader takes plain comma (or tab) separated files
    plain = read["sheet"] is None and read["sep"] in (None, ",", "\t") and \
        read["decimal"] in (None, ".")
    if plain and fin == "csv" and read["sep"] is None:
        from rima.io import sniff_csv

        plain = sniff_csv(data) == (",", ".")
    if not plain or fin not in streamable or fout not in streamable:
        if batch_rows:
            raise click.BadParameter(f"streaming reads and writes CSV, TSV or Parquet, not "
                                     f"{fin} -> {fout}", param_hint="--batch-rows")
        return False
    p = Path(data)
    return bool(batch_rows) or (p.exists() and p.stat().st_size > STREAM_ABOVE_BYTES)
