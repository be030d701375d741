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


