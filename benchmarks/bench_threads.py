"""Where one thread beats several: the size threshold of rima.config.SERIAL_ROWS.

    python benchmarks/bench_threads.py [--sizes 2240,10000,20000,50000,100000,200000]
                                       [--repeat 15] [--busy 2]

For each size, the whole fit (validation, moments, factor analyses, MIMIC, scoring, RSM,
profiles) is timed with the threshold switched off (every block pass spread over threads)
at one thread and at all threads, quiet and then beside `--busy` busy-loop processes.
The threshold is the size from which all threads win in both conditions. Prints medians
and p90 with the load average measured before each size.
"""

import argparse
import os
import warnings

from rima import config
from rima._kernels import threads
from rima.bench import busy_processes, example_spec, median_time, survey
from rima.commands.bench import parse_sizes
from rima.pipeline import fit


def measure(sizes, repeat, spec):
    rows = []
    threads.SERIAL_ROWS = 0  # always spread the blocks; the point is to see when it pays
    top = config.max_threads()
    for n in sizes:
        df = survey(n)
        fit(df, spec)
        load = os.getloadavg()[0]
        res = {}
        for t in (1, top):
            config.set_num_threads(t)
            res[t], _ = median_time(lambda df=df: fit(df, spec), repeat)
        config.set_num_threads(None)
        rows.append((n, load, res[1], res[top]))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2240,10000,20000,50000,100000,200000")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--busy", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    spec = example_spec()
    sizes = parse_sizes(a.sizes)
    top = config.max_threads()
    table = {"quiet": measure(sizes, a.repeat, spec)}
    if a.busy:
        with busy_processes(a.busy):
            table[f"busy {a.busy}"] = measure(sizes, a.repeat, spec)
    print(f"whole fit, medians (p90) of {a.repeat} runs; threads 1 vs {top}")
    print(f"{'mode':>8} {'n':>9} {'load':>6} {'1 thread':>20} {f'{top} threads':>20} winner")
    for mode, rows in table.items():
        for n, load, one, many in rows:
            win = "1" if one <= many else str(top)
            print(f"{mode:>8} {n:>9,} {load:6.2f} {one * 1e3:9.1f} ({one.p90 * 1e3:6.1f}) ms"
                  f" {many * 1e3:9.1f} ({many.p90 * 1e3:6.1f}) ms {win:>6}")


if __name__ == "__main__":
    main()
