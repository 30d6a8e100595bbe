#!/usr/bin/env python3
"""Regenerates the fixture trees in tests/testdata from real cgroups (see README.md).

Run as root on a hybrid cgroup host (v1 cpu, cpuacct, memory, blkio, pids plus a
cgroup2 "unified" mount): it creates cgroups under <controller>/fixture-src, runs a
short workload in each (CPU under a CFS quota, anonymous memory, page cache, direct
IO, threads), copies the files the agent reads with a plain read (cgroupfs files
cannot be cp'ed reliably), then stops the workload and removes the cgroups.

  tests/testdata/cgroup_v1  copied from the real hierarchies
  tests/testdata/cgroup_v2  written in Linux 6.1's cgroup v2 formats, with the
                            numbers of the same capture (see README.md)
  tests/testdata/proc       copied from the real /proc
"""

import os
import shutil
import signal
import subprocess
import sys
import time

CGROUP_ROOT = "/sys/fs/cgroup"
SOURCE = "fixture-src"
HERE = os.path.dirname(os.path.abspath(__file__))
CGROUPS = ["", "prescale", "prescale/acme", "prescale/acme/web", "prescale/acme/batch", "system.slice",
           "system.slice/nginx.service"]
V1_FILES = {
    "cpu": ["cpu.stat", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares"],
    "cpuacct": ["cpuacct.usage", "cpuacct.stat"],
    "memory": ["memory.usage_in_bytes", "memory.stat", "memory.limit_in_bytes", "memory.oom_control",
               "memory.failcnt"],
    "blkio": ["blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"],
    "pids": ["pids.current", "pids.max"],
}
V2_FILES = ["cpu.stat", "cpu.max", "cpu.weight", "memory.current", "memory.stat", "memory.max", "memory.events",
            "io.stat", "pids.current", "pids.max", "cpu.pressure", "memory.pressure", "io.pressure"]
HIERARCHIES = list(V1_FILES) + ["unified"]
PROC_FILES = ["stat", "meminfo", "loadavg", "net/dev", "pressure/cpu", "pressure/memory", "pressure/io",
              "partitions"]

# One workload per cgroup: touch `mem_mib` of anonymous memory, write `cache_mib` of
# page cache, do `dio_mib` of direct IO, burn CPU for `burn_s` of wall time, keep
# `threads` extra threads, then report "ready" and sleep until killed.
WORKLOAD = r"""
import os, sys, threading, time, subprocess
mem_mib, cache_mib, dio_mib, threads = (int(a) for a in sys.argv[1:5]); burn_s = float(sys.argv[5]); tmp = sys.argv[6]
hold = bytearray(mem_mib << 20)
for i in range(0, len(hold), 4096): hold[i] = 1
if cache_mib:
    with open(tmp + ".cache", "wb") as f: f.write(os.urandom(cache_mib << 20))
if dio_mib:
    subprocess.run(["dd", "if=/dev/urandom", "of=" + tmp + ".dio", "bs=1M", "count=%d" % dio_mib, "oflag=direct",
                    "status=none"], check=True)
    subprocess.run(["dd", "if=" + tmp + ".dio", "of=/dev/null", "bs=1M", "iflag=direct", "status=none"], check=True)
for _ in range(threads): threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
end = time.monotonic() + burn_s
while time.monotonic() < end: pass
print("ready", flush=True)
time.sleep(3600)
"""

WORKLOADS = {
    "prescale/acme/web": dict(mem_mib=48, cache_mib=16, dio_mib=8, threads=3, burn_s=1.5),
    "prescale/acme/batch": dict(mem_mib=24, cache_mib=4, dio_mib=2, threads=1, burn_s=0.6),
    "system.slice/nginx.service": dict(mem_mib=6, cache_mib=1, dio_mib=0, threads=0, burn_s=0.2),
}
SETTINGS = {  # written before the workloads start
    ("cpu", "prescale/acme/web", "cpu.cfs_quota_us"): "50000",
    ("memory", "prescale/acme/web", "memory.limit_in_bytes"): "268435456",
    ("cpu", "prescale/acme/batch", "cpu.shares"): "512",
    ("pids", "prescale/acme/batch", "pids.max"): "32",
}


def real(hierarchy, path):
    return os.path.join(CGROUP_ROOT, hierarchy, SOURCE, path) if path else os.path.join(CGROUP_ROOT, hierarchy)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write_fixture(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def create_cgroups(tmpdir):
    for h in HIERARCHIES:
        for path in CGROUPS[1:]:
            os.makedirs(real(h, path), exist_ok=True)
    for (h, path, name), value in SETTINGS.items():
        with open(os.path.join(real(h, path), name), "w") as f:
            f.write(value)
    # cgroup v1 blk-throttle only accounts IO of groups with a rule on the device:
    # a limit far above the disk's speed makes web and batch count without slowing them.
    dev = os.stat(tmpdir).st_dev
    for path in ("prescale/acme/web", "prescale/acme/batch"):
        for name in ("blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device"):
            with open(os.path.join(real("blkio", path), name), "w") as f:
                f.write("%d:%d %d" % (os.major(dev), os.minor(dev), 10 << 40))


def remove_cgroups():
    for h in HIERARCHIES:
        for path in reversed(CGROUPS[1:]):
            if os.path.isdir(real(h, path)):
                os.rmdir(real(h, path))
        if os.path.isdir(os.path.join(CGROUP_ROOT, h, SOURCE)):
            os.rmdir(os.path.join(CGROUP_ROOT, h, SOURCE))


def start_workloads(tmpdir):
    procs = []
    for path, w in WORKLOADS.items():
        procs_files = [os.path.join(real(h, path), "cgroup.procs") for h in HIERARCHIES]

        def join(files=procs_files):
            for f in files:
                with open(f, "w") as out:
                    out.write("0")

        tmp = os.path.join(tmpdir, path.replace("/", "_"))
        args = [sys.executable, "-c", WORKLOAD, str(w["mem_mib"]), str(w["cache_mib"]), str(w["dio_mib"]),
                str(w["threads"]), str(w["burn_s"]), tmp]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, preexec_fn=join, start_new_session=True))
    for p in procs:
        if p.stdout.readline().strip() != b"ready":
            raise RuntimeError("workload failed")
    return procs


def capture_v1(out_root):
    shutil.rmtree(out_root, ignore_errors=True)
    for h, files in list(V1_FILES.items()) + [("unified", V2_FILES)]:
        for path in CGROUPS:
            src = real(h, path)
            for name in files + ["cgroup.procs"]:
                if os.path.exists(os.path.join(src, name)):
                    write_fixture(os.path.join(out_root, h, path, name), read(os.path.join(src, name)))
    write_fixture(os.path.join(out_root, "unified", "cgroup.controllers"),
                  read(os.path.join(real("unified", ""), "cgroup.controllers")))


def kv(data):
    out = {}
    for line in data.decode().splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = int(parts[1])
    return out


def v1(root, h, path, name):
    p = os.path.join(root, h, path, name)
    return read(p) if os.path.exists(p) else None


# Linux 6.1 mm/memcontrol.c memory_stat_format() order; values the v1 capture
# has are mapped, the rest are written as 0.
V2_MEMORY_STAT = ["anon", "file", "kernel", "kernel_stack", "pagetables", "sec_pagetables", "percpu", "sock",
                  "vmalloc", "shmem", "zswap", "zswapped", "file_mapped", "file_dirty", "file_writeback", "swapcached",
                  "anon_thp", "file_thp", "shmem_thp", "inactive_anon", "active_anon", "inactive_file", "active_file",
                  "unevictable", "slab_reclaimable", "slab_unreclaimable", "slab", "workingset_refault_anon",
                  "workingset_refault_file", "workingset_activate_anon", "workingset_activate_file",
                  "workingset_restore_anon", "workingset_restore_file", "workingset_nodereclaim", "pgscan", "pgsteal",
                  "pgscan_kswapd", "pgscan_direct", "pgscan_khugepaged", "pgsteal_kswapd", "pgsteal_direct",
                  "pgsteal_khugepaged", "pgfault", "pgmajfault", "pgrefill", "pgactivate", "pgdeactivate",
                  "pglazyfree", "pglazyfreed", "zswpin", "zswpout", "thp_fault_alloc", "thp_collapse_alloc"]
V1_TO_V2_MEMORY = {"anon": "total_rss", "file": "total_cache", "shmem": "total_shmem",
                   "file_mapped": "total_mapped_file", "file_dirty": "total_dirty", "file_writeback": "total_writeback",
                   "swapcached": "total_swapcached", "anon_thp": "total_rss_huge",
                   "inactive_anon": "total_inactive_anon", "active_anon": "total_active_anon",
                   "inactive_file": "total_inactive_file", "active_file": "total_active_file",
                   "unevictable": "total_unevictable", "workingset_refault_anon": "total_workingset_refault_anon",
                   "workingset_refault_file": "total_workingset_refault_file", "pgfault": "total_pgfault",
                   "pgmajfault": "total_pgmajfault"}


def derive_v2(v1_root, out_root):
    """Writes the pure v2 tree in Linux 6.1's formats from the v1 capture of the same moment."""
    shutil.rmtree(out_root, ignore_errors=True)
    write_fixture(os.path.join(out_root, "cgroup.controllers"), b"cpuset cpu io memory hugetlb pids rdma misc\n")
    for path in CGROUPS:
        d = os.path.join(out_root, path)
        is_root = path == ""

        def put(name, text):
            write_fixture(os.path.join(d, name), text.encode())

        cpu = kv(v1(v1_root, "cpu", path, "cpu.stat"))
        unified_cpu = kv(v1(v1_root, "unified", path, "cpu.stat"))
        usage_us = int(v1(v1_root, "cpuacct", path, "cpuacct.usage")) // 1000
        lines = ["usage_usec %d" % usage_us, "user_usec %d" % unified_cpu["user_usec"],
                 "system_usec %d" % unified_cpu["system_usec"]]
        if not is_root:  # cpu_extra_stat_show() is not on the root
            lines += ["nr_periods %d" % cpu["nr_periods"], "nr_throttled %d" % cpu["nr_throttled"],
                      "throttled_usec %d" % (cpu["throttled_time"] // 1000), "nr_bursts %d" % cpu["nr_bursts"],
                      "burst_usec %d" % (cpu["burst_time"] // 1000)]
        put("cpu.stat", "\n".join(lines) + "\n")
        mem = kv(v1(v1_root, "memory", path, "memory.stat"))
        put("memory.stat", "".join("%s %d\n" % (k, mem.get(V1_TO_V2_MEMORY.get(k, ""), 0)) for k in V2_MEMORY_STAT))
        io = {}
        for name, keys in (("blkio.throttle.io_service_bytes_recursive", ("rbytes", "wbytes")),
                           ("blkio.throttle.io_serviced_recursive", ("rios", "wios"))):
            for line in v1(v1_root, "blkio", path, name).decode().splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[1] in ("Read", "Write"):
                    io.setdefault(parts[0], {})[keys[parts[1] == "Write"]] = int(parts[2])
        put("io.stat", "".join("%s rbytes=%d wbytes=%d rios=%d wios=%d dbytes=0 dios=0\n" %
                               (dev, s.get("rbytes", 0), s.get("wbytes", 0), s.get("rios", 0), s.get("wios", 0))
                               for dev, s in sorted(io.items()) if any(s.values())))
        for name in ("cpu.pressure", "memory.pressure", "io.pressure", "cgroup.procs"):
            put(name, v1(v1_root, "unified", path, name).decode())
        if is_root:  # the rest is CFTYPE_NOT_ON_ROOT
            continue
        quota = int(v1(v1_root, "cpu", path, "cpu.cfs_quota_us"))
        period = int(v1(v1_root, "cpu", path, "cpu.cfs_period_us"))
        put("cpu.max", "%s %d\n" % ("max" if quota < 0 else str(quota), period))
        shares = int(v1(v1_root, "cpu", path, "cpu.shares"))
        put("cpu.weight", "%d\n" % (shares * 100 // 1024))  # the kernel's shares <-> weight scale
        put("memory.current", v1(v1_root, "memory", path, "memory.usage_in_bytes").decode())
        limit = int(v1(v1_root, "memory", path, "memory.limit_in_bytes"))
        put("memory.max", "max\n" if limit >= 1 << 62 else "%d\n" % limit)
        oom = kv(v1(v1_root, "memory", path, "memory.oom_control"))
        failcnt = int(v1(v1_root, "memory", path, "memory.failcnt"))
        put("memory.events", "low 0\nhigh 0\nmax %d\noom %d\noom_kill %d\noom_group_kill 0\n" %
            (failcnt, oom["oom_kill"], oom["oom_kill"]))
        put("pids.current", v1(v1_root, "pids", path, "pids.current").decode())
        put("pids.max", v1(v1_root, "pids", path, "pids.max").decode())


def capture_proc(out_root):
    shutil.rmtree(out_root, ignore_errors=True)
    for name in PROC_FILES:
        write_fixture(os.path.join(out_root, name), read(os.path.join("/proc", name)))


def main():
    if os.geteuid() != 0:
        sys.exit("run as root")
    tmpdir = "/var/tmp/prescale-fixture"  # on a real block device, for direct IO
    os.makedirs(tmpdir, exist_ok=True)
    procs = []
    try:
        create_cgroups(tmpdir)
        procs = start_workloads(tmpdir)
        time.sleep(0.5)  # let per-cpu statistics settle before the copy
        capture_v1(os.path.join(HERE, "cgroup_v1"))
        capture_proc(os.path.join(HERE, "proc"))
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        time.sleep(0.2)
        remove_cgroups()
        shutil.rmtree(tmpdir, ignore_errors=True)
    derive_v2(os.path.join(HERE, "cgroup_v1"), os.path.join(HERE, "cgroup_v2"))


if __name__ == "__main__":
    main()
