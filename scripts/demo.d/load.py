#!/usr/bin/env python3
"""One demo workload: joins the given cgroups, then burns CPU following a schedule.

usage: load.py STEP_SECONDS START_UNIX SCHEDULE_CSV PROCS_FILE...
The schedule is a comma-separated list of core fractions (0-0.95), one per step; the
process follows it by duty cycling in 50 ms slices and exits at its end, or when its
parent (the demo) is gone.
"""
import os
import sys
import time


def main() -> int:
    step_s = float(sys.argv[1])
    start = float(sys.argv[2])
    schedule = [float(x) for x in sys.argv[3].split(",") if x]
    for procs in sys.argv[4:]:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    parent = os.getppid()
    slice_s = 0.05
    while True:
        now = time.time()
        i = int((now - start) / step_s)
        if i >= len(schedule) or os.getppid() != parent:
            return 0
        frac = min(max(schedule[max(i, 0)], 0.0), 0.95)
        end = now + slice_s * frac
        x = 0
        while time.time() < end:
            for _ in range(200):
                x += 1
        rest = slice_s - (time.time() - now)
        if rest > 0:
            time.sleep(rest)


if __name__ == "__main__":
    sys.exit(main())
