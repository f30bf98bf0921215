"""``python -m bench [--quick] [NAME ...]``: run the benchmarks and print one table.

Exit status is 0 unless a benchmark crashed: figures are reported, never judged.
"""
from __future__ import annotations

import argparse
import sys

from bench.harness import discover, format_table, run_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("only", nargs="*", help="run only benchmarks whose module name contains one of these")
    args = parser.parse_args(argv)
    names = discover(args.only)
    if not names:
        print("no benchmark matched", file=sys.stderr)
        return 2
    rows, failed = run_all(names, args.quick)
    print()
    print(format_table(rows))
    if failed:
        print(f"\ncrashed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
