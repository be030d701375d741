"""Run the whole benchmark suite: the `rima bench` table, then the focused benchmarks.

    python benchmarks/run_all.py [--quick] [--sizes 2240,100000,1M,10M] [--repeat 3]
                                 [--json results.json] [--no-r] [--no-demo] [--focused]

The table is the one `rima bench` prints (rima.bench.run); --focused also runs
bench_factor.py (one pillar on 1,000,000 rows) and bench_mimic.py (MIMIC with robust SEs
on 1,000,000 rows) in this directory, which time single stages in isolation.
"""

import argparse
import runpy
import sys
from pathlib import Path

from rima.bench import run
from rima.commands.bench import parse_sizes

HERE = Path(__file__).resolve().parent


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default=None)
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--json", dest="json_path", default=None,
                    help="also write the results (with the machine description) here")
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--no-demo", action="store_true")
    ap.add_argument("--focused", action="store_true")
    args = ap.parse_args(argv)
    res = run(sizes=parse_sizes(args.sizes) if args.sizes else None, repeat=args.repeat,
              quick=args.quick, n_boot=args.boot, with_r=not args.no_r,
              with_demo=not args.no_demo, echo=lambda m: print(f"[bench] {m}", file=sys.stderr))
    print(res.format())
    if args.json_path:
        Path(args.json_path).write_text(res.to_json())
    if args.focused:
        for script in ("bench_factor.py", "bench_mimic.py"):
            print(f"\n== {script}")
            sys.argv = [script]
            runpy.run_path(str(HERE / script), run_name="__main__")


if __name__ == "__main__":
    main()
