"""Numba kernels: pure functions on arrays. Importing any of them first pins numba's
threading behaviour (`rima._kernels.threads.configure`)."""

from rima._kernels import threads as _threads

_threads.configure()
