"""rima: RIMA-II resilience index measurement and analysis."""

from importlib import import_module

__version__ = "0.1.0"

# Public names resolve lazily so `import rima` stays fast and numba kernels compile only
# when the part that needs them is used.
_EXPORTS = {
    "simulate": ("rima.simulation", "simulate"),
    "load_spec": ("rima.spec", "load_spec"),
    "Spec": ("rima.spec", "Spec"),
    "read_table": ("rima.io", "read_table"),
    "write_table": ("rima.io", "write_table"),
    "validate": ("rima.validation", "validate"),
    "FactorAnalysis": ("rima.factor", "FactorAnalysis"),
    "FactorModel": ("rima.factor_estimator", "FactorModel"),
    "fit": ("rima.engines", "fit"),
    "RimaResult": ("rima.result", "RimaResult"),
    "load": ("rima.model_file", "load"),
    "bootstrap": ("rima.pipeline", "bootstrap"),
    "set_threads": ("rima.config", "set_threads"),
    "logger": ("rima.config", "logger"),
    "impact": ("rima.analysis.impact", "impact"),
}


def __getattr__(name):
    if name == "mimic":
        return import_module("rima.mimic")
    try:
        module_name, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'rima' has no attribute {name!r}") from None
    return getattr(import_module(module_name), attr)


def __dir__():
    return sorted([*_EXPORTS, "mimic", "__version__"])
