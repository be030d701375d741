"""Numba kernels: pure functions on arrays. Importing any of them first pins the threading
behaviour (rima.config) and, on a first run, says that the kernels are being compiled."""

from rima import config as _config

_config.configure()
_config.compile_notice()
