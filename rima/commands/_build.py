"""Build before a command when the spec has [sources] and [build]."""

import click


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
