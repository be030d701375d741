"""`python -m rima serve` whose aggregation jobs wait forever.

A request that reaches an aggregation job overruns any deadline, however fast the machine
is, so the service's timeout answer is tested without depending on the machine's speed.
Run as a script with the `rima serve` arguments.
"""

import threading

import rima.service.app as service_app
from rima.cli import main

_never = threading.Event()


def _held_job(*args):
    _never.wait()  # the job thread is a daemon: it ends with the process


service_app.aggregate_job = _held_job
main(["serve", *__import__("sys").argv[1:]])
