"""The command line as the tests call it: in process, exit status and both streams."""

import pytest

from rima.cli import main


def run(argv, capsys):
    """Run `rima ARGV` in this process; return (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err
