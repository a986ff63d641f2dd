"""python -m health_analytics compute: the CLI's `compute` (stdin -> stdout) through the
Python package, for checking an installed wheel without the C++ binary."""

from __future__ import annotations

import argparse
import pathlib
import sys

from ._compute import _OPTIONS, compute


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m health_analytics")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compute", help="healthmetrics Extended JSON lines on stdin -> analytics "
                                       "Extended JSON lines on stdout")
    c.add_argument("--now", help="the clock as an ISO-8601 instant (default: the system clock)")
    c.add_argument("--users", type=pathlib.Path, help="users as Extended JSON lines")
    c.add_argument("--dead-letters", type=pathlib.Path, help="write dead letters here")
    for name in _OPTIONS:
        c.add_argument("--" + name.replace("_", "-"), dest=name, metavar="VALUE",
                       type=(lambda v: v.lower() in ("true", "1", "yes"))
                       if name == "zero_is_missing" else float if "percent" in name
                       or "threshold" in name else int)
    args = parser.parse_args(argv)
    options = {name: getattr(args, name) for name in _OPTIONS}
    try:
        result = compute(sys.stdin.read(), args.users, now=args.now, errors="skip", **options)
    except (ValueError, TypeError, OSError) as e:
        print(f"python -m health_analytics compute: {e}", file=sys.stderr)
        return 2
    for problem in result.errors:
        print(f"python -m health_analytics compute: {problem}; skipped", file=sys.stderr)
    sys.stdout.write(result.analytics_json)
    if args.dead_letters:
        args.dead_letters.write_text(result.dead_letters_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
