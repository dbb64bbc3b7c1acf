#!/usr/bin/env python3
"""Where two callgrind runs differ, function by function.

    python3 scripts/callgrind-diff.py BEFORE.out AFTER.out [REQUESTS]

Prints each function whose self cost (instructions) changed by at least
three per request between the two outputs of
`valgrind --tool=callgrind --callgrind-out-file=F target/release/examples/callgrind STACK N`,
per request (REQUESTS, default 2000), smallest first. Inlining moves cost
between functions from one build to the next: read a pair of equal and
opposite rows as a move, not a change. For the call sites themselves,
build with `CARGO_PROFILE_RELEASE_DEBUG=line-tables-only` and read
`callgrind_annotate --auto=yes` of both.
"""

import re
import subprocess
import sys


def self_costs(path):
    out = subprocess.run(
        ["callgrind_annotate", "--threshold=100", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    costs = {}
    for line in out.splitlines():
        match = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S.*?)(?: \[.*)?$", line)
        if match and ":" in match.group(2):
            function = match.group(2).split(":", 1)[1]
            costs[function] = costs.get(function, 0) + int(match.group(1).replace(",", ""))
    return costs


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    before, after = self_costs(sys.argv[1]), self_costs(sys.argv[2])
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    rows = sorted((after.get(f, 0) - before.get(f, 0), f) for f in set(before) | set(after))
    for delta, function in rows:
        if abs(delta) >= 3 * requests:
            print(f"{delta / requests:+9.1f}  {function[:150]}")
    total = sum(after.values()) - sum(before.values())
    print(f"{total / requests:+9.1f}  (every function shown, summed: the whole program, not only the layer)")


if __name__ == "__main__":
    main()
