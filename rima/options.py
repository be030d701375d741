"""The spec's `[options]` table: validated analysis options.

Defaults reproduce the reference procedure (FAO's Shiny RIMA tool, R psych + lavaan).
"""

from dataclasses import dataclass

from rima.errors import SpecError

KNOWN_OPTIONS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Options:
    pass


def parse_options(table: dict | None) -> Options:
    table = dict(table or {})
    unknown = sorted(set(table) - KNOWN_OPTIONS)
    if unknown:
        raise SpecError(f"unknown key(s) in [options]: {', '.join(unknown)}")
    return Options()
