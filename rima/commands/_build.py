"""Build before a command when the spec has [sources] and [build]."""

import click

# the score status of a household the build could not build at all (a missing or
# repeated id in the household table): its reason, not the model's variables it lacks
NOT_BUILT = "not built: "


def prepare(data, spec_path, say):
    """(data or the built table, spec, BuildResult or None)."""
    from rima.build.run import build_for_spec
    from rima.spec import load_spec

    spec = load_spec(spec_path)
    if spec.build is None:
        if data is None:
            raise click.UsageError("DATA is required unless the spec has [sources] and [build]")
        return data, spec, None
    if say:
        say("building household variables from the raw modules")
    table, spec, result = build_for_spec(spec, data)
    return table, spec, result


def source_options(values) -> dict[str, str]:
    """The --source NAME=PATH values as {name: path}; a name given twice is refused
    (the last one would win without a word)."""
    from rima.build.run import parse_sources

    seen: dict[str, str] = {}
    for v in values or ():
        name, sep, path = str(v).partition("=")
        name = name.strip()
        if sep and name in seen:
            raise click.BadParameter(
                f"source {name!r} is given twice ({name}={seen[name]} and {name}="
                f"{path.strip()}); give each source once", param_hint="--source")
        if sep:
            seen[name] = path.strip()
    return parse_sources(values)


def with_build_reasons(status, built, main: str):
    """The score's status column with the households the build could not build at all
    (a missing or repeated id in the household table) given that reason, e.g. "not built:
    household id repeated in the household table", in place of the list of the model's
    variables they lack. Households scored ("ok") keep their status; `status` itself is
    returned when every household was built (no copy of a large column)."""
    import numpy as np
    import pandas as pd

    from rima.build import status as st

    issues = built.issues
    if not len(issues) or not built.variables:
        return status
    # the household table's own issues: one per household, its row in the table
    whole = issues["status"].isin((st.MISSING_KEY, st.DUPLICATE_HOUSEHOLD)).to_numpy() & \
        (issues["module"] == main).to_numpy()
    if not whole.any():
        return status
    pos = issues["row"].to_numpy()[whole].astype(np.int64) - 1
    values = status.to_numpy(dtype=object, copy=True)
    pos = pos[(pos >= 0) & (pos < len(values))]
    pos = pos[values[pos] != st.OK]
    if not len(pos):
        return status
    # the reason every built variable of such a household carries (the report's)
    first = built.report[built.variables[0]].to_numpy(dtype=object)
    values[pos] = [NOT_BUILT + str(first[i]) for i in pos]
    return pd.Series(values, index=status.index, name=status.name, dtype=status.dtype)
