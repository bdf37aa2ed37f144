"""The container's first process (``tools/gradescope_container.py``): runs
``/autograder/source/run_autograder`` as Gradescope would and prints one JSON line of what it
saw. It listens on the container's loopback (TCP, ``SIM_PORT``) and on an abstract Unix socket
(``\\0backprop-escape-SIM_TOKEN``) for the network attacks, and afterwards records the
processes and sandbox files left, and the cgroup's memory peak."""

import json
import os
import resource
import socket
import subprocess
import threading
import time

ROOT = "/autograder"
SANDBOX_UIDS = 1_900_000_000   # isolation.UID_BASE
hits, problems = [], []


def listen(family, address):
    try:
        sock = socket.socket(family)
        sock.bind(address)
        sock.listen(8)
    except OSError as exc:
        problems.append(f"cannot listen on {address!r}: {exc}")
        return
    while True:
        conn, peer = sock.accept()
        hits.append(str(address))
        conn.close()


def processes():
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ")[:100]
        except (OSError, ValueError):
            continue
        found.append(f"{pid} uid={status['Uid'].split()[0]} state={status['State'].split()[0]}"
                     f" {cmd.decode('latin1')}")
    return found


def sandbox_files():
    left = []
    for top in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                try:
                    if os.lstat(path).st_uid >= SANDBOX_UIDS:
                        left.append(path)
                except OSError:
                    pass
    return left


def cgroup(*names):
    for name in names:
        for path in (f"/sys/fs/cgroup/memory/{name}", f"/sys/fs/cgroup/{name}"):
            try:
                return int(open(path).read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return None


port, token = int(os.environ.get("SIM_PORT", "47123")), os.environ.get("SIM_TOKEN", "x")
threading.Thread(target=listen, args=(socket.AF_INET, ("127.0.0.1", port)), daemon=True).start()
threading.Thread(target=listen, args=(socket.AF_UNIX, "\0backprop-escape-" + token),
                 daemon=True).start()
time.sleep(0.2)
env = {k: v for k, v in os.environ.items() if not k.startswith("SIM_")}
start = time.perf_counter()
proc = subprocess.run([ROOT + "/source/run_autograder"], cwd=ROOT, env=env,
                      capture_output=True, text=True)
wall = time.perf_counter() - start
time.sleep(1)
while True:   # this is the container's init: collect whatever was left to it
    try:
        if os.waitpid(-1, os.WNOHANG)[0] == 0:
            break
    except ChildProcessError:
        break
try:
    results = json.load(open(ROOT + "/results/results.json"))
except (OSError, ValueError) as exc:
    results = {"error": repr(exc)}
print(json.dumps({
    "results": results, "wall_s": wall, "rc": proc.returncode,
    "stdout_tail": proc.stdout[-1000:], "stderr_tail": proc.stderr[-1000:],
    "cgroup_peak_mb": (cgroup("memory.max_usage_in_bytes", "memory.peak") or 0) / 2**20,
    "cpu_s": resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime,
    "memory_limit_mb": (cgroup("memory.limit_in_bytes", "memory.max") or 0) / 2**20,
    "processes_left": processes(), "sandbox_files_left": sandbox_files(),
    "listener_hits": hits, "listener_problems": problems,
}))
