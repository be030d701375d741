"""From raw survey modules to household variables: declarative, accounted for per household.

    result = rima.build.build("spec.toml")            # or build(spec, {"roster": df, ...})
    result.table      # the household table with the built variables
    result.report     # id, build_status, one status per built variable
    result.issues     # every bad case: variable, status, module, column, household, row, value
    result.spec       # the build spec with learned constants, for a saved model

The spec's `[sources]` names the household table and the modules, `[build.<variable>]`
tables name a recipe and its options (rima.build.catalog lists them with their defaults).
"""

from rima.build.engine import BuildResult, build, read_sources
from rima.build.spec import BuildSpec, parse_build

__all__ = ["BuildResult", "BuildSpec", "build", "parse_build", "read_sources"]
