"""Grade in a container shaped like Gradescope's: runc, Docker's defaults, a fresh overlay.

What a Gradescope grading container has, reproduced with Debian's ``runc`` (no Docker engine
needed): root inside, no user namespace, new PID, network, IPC, UTS and mount namespaces,
exactly Docker's 14 default capabilities, Docker's default seccomp profile
(``tools/container/docker-default-seccomp.json``: moby's ``profiles/seccomp/default.json``
resolved the way dockerd resolves it for amd64 and the default capabilities; it refuses
namespaces and allows Landlock), Docker's masked and read-only ``/proc`` paths, a memory limit
of 768 MiB (swap the same) and a CPU quota of 50 ms per 100 ms, and overlayfs with a fresh
upper layer per grading over the image.

The image (cached in ``build/gradescope-sim/``):

* ``base``: ``debootstrap --variant=minbase bookworm`` plus the shared libraries a CPython
  build links to (Gradescope's base is Ubuntu 22.04: same kind, not the same files);
* ``image-<hash>``, keyed by the zip's ``requirements.txt`` and the Python version: the Python
  of ``environment.yml``'s version from pyenv (Miniforge cannot be downloaded here) at
  ``/root/miniforge3/envs/otter-env``, where ``setup.sh`` puts it, with a ``mamba`` stand-in
  that answers ``run_autograder``'s ``shell hook`` and ``activate``; the zip's lock installed
  into it with ``setup.sh``'s pip options; the zip unpacked into ``/autograder/source``.

``grade(notebook)`` runs ``/autograder/source/run_autograder`` once in a fresh container,
through ``tools/container/driver.py`` (inside), and returns its results.json with what was
measured: wall time, the cgroup's memory peak, processes left after ``run_autograder``
returned, connections to listeners of the container's own (TCP on its loopback, an abstract
Unix socket), files left in the shared writable directories and how much the upper layer grew.

Usage: python tools/gradescope_container.py NOTEBOOK [--zip autograder/autograder.zip]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "autograder"))

import lock_env  # noqa: E402
from gradekit import python_version  # noqa: E402

HERE = ROOT / "tools" / "container"
CACHE = ROOT / "build" / "gradescope-sim"
ENV = "/root/miniforge3/envs/otter-env"
SUITE = "bookworm"
RECIPE = 2   # bump when image_layer changes what it builds
# What a CPython build links to beyond libc (the base has no Python of its own).
LIBRARIES = ("libffi8", "libssl3", "libsqlite3-0", "libreadline8", "libbz2-1.0", "liblzma5",
             "zlib1g", "libncursesw6", "libgdbm6", "libuuid1", "libexpat1")
DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
MEMORY_BYTES = 768 * 2**20
CPU_QUOTA_US, CPU_PERIOD_US = 50_000, 100_000
# Gradescope's half CPU is the container's own: a large share keeps the machine's other work
# (CI shares it) from taking it (bench/cgroup.py does the same).
CPU_SHARES = 262_144
MAMBA = """#!/bin/sh
# Stand-in for Miniforge's mamba: what run_autograder asks of it.
if [ "$1" = shell ] && [ "$2" = hook ]; then
    echo 'mamba() { [ "$1" = activate ] && export PATH=/root/miniforge3/envs/$2/bin:$PATH; }'
fi
"""


def unavailable() -> str | None:
    """None if a container can be run here, else why not."""
    if os.geteuid() != 0:
        return "runc and overlayfs mounts need root"
    for tool in ("runc", "debootstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make test installs it with apt-get)"
    if not Path("/sys/fs/cgroup/memory").is_dir() and \
            not Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return "no cgroup memory controller"
    return None


def _mirror() -> str:
    """The Debian mirror this machine's apt sources name."""
    for source in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]:
        try:
            for line in source.read_text().splitlines():
                words = line.split()
                if line.startswith("URIs:") and "debian" in line:
                    return words[1]
                if words[:1] == ["deb"] and "debian" in line:
                    return next(w for w in words[1:] if w.startswith("http"))
        except (OSError, StopIteration):
            pass
    return "http://deb.debian.org/debian"


def base_layer() -> Path:
    key = hashlib.sha256(" ".join((SUITE, *LIBRARIES)).encode()).hexdigest()[:12]
    rootfs = CACHE / f"base-{SUITE}-{key}" / "rootfs"
    stamp = rootfs.parent / ".done"
    if not stamp.exists():
        shutil.rmtree(rootfs.parent, ignore_errors=True)
        rootfs.mkdir(parents=True)
        print(f"building the container's base layer (debootstrap {SUITE}, once)", file=sys.stderr, flush=True)
        subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(LIBRARIES),
                        SUITE, str(rootfs), _mirror()], check=True, stdout=subprocess.DEVNULL)
        stamp.touch()
    return rootfs


def image_layer(zip_path: Path) -> Path:
    """The layer ``setup.sh`` would add for this zip (see the module's docstring)."""
    version = python_version.dotted(python_version.IMAGE)
    with zipfile.ZipFile(zip_path) as zf:
        lock = zf.read("requirements.txt")
    key = hashlib.sha256(lock + f"{version} {RECIPE}".encode() + (HERE / "driver.py").read_bytes()
                         ).hexdigest()[:16]
    rootfs = CACHE / f"image-{key}" / "rootfs"
    stamp = rootfs.parent / ".done"
    if stamp.exists():
        return rootfs
    interpreter = lock_env.find_interpreter(version)
    if interpreter is None:
        raise LookupError(f"Python {version} (the image's) is not installed here")
    for old in CACHE.glob("image-*"):
        shutil.rmtree(old)
    print(f"building the container's image layer (Python {version} and the zip's lock, "
          "once per lock)", file=sys.stderr, flush=True)
    prefix = Path(os.path.realpath(Path(interpreter).parent.parent))
    env = rootfs / ENV.lstrip("/")
    shutil.copytree(prefix, env, symlinks=True, ignore=shutil.ignore_patterns(
        "test", "tests", "idlelib", "tkinter", "turtledemo", "*.a"))
    # the interpreter finds libpython through its absolute RUNPATH (pyenv's lib directory)
    runpath = rootfs / str(prefix).lstrip("/")
    runpath.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(f"{ENV}", runpath)
    python = env / "bin" / f"python{version}"
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "requirements.txt").write_bytes(lock)
        subprocess.run([str(python), *lock_env.INSTALL, "-r", str(Path(tmp) / "requirements.txt")],
                       check=True)
    mamba = rootfs / "root/miniforge3/bin/mamba"
    mamba.parent.mkdir(parents=True)
    mamba.write_text(MAMBA)
    mamba.chmod(0o755)
    (rootfs / "sim").mkdir()
    shutil.copy(HERE / "driver.py", rootfs / "sim" / "driver.py")
    stamp.touch()
    return rootfs


def _config(spec: dict, name: str, env: list[str]) -> dict:
    """runc's config.json for one grading, shaped like ``docker run`` (see the docstring)."""
    config = json.loads(json.dumps(spec))
    process = config["process"]
    nofile = min(1048576, resource.getrlimit(resource.RLIMIT_NOFILE)[1])   # Docker's, if allowed
    process.update(terminal=False, cwd="/", args=[f"{ENV}/bin/python", "/sim/driver.py"],
                   env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "HOME=/root", "HOSTNAME=gradescope-sim", "LANG=C.UTF-8", *env],
                   noNewPrivileges=False,
                   rlimits=[{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}])
    process["capabilities"] = {"bounding": DOCKER_CAPS, "effective": DOCKER_CAPS,
                               "permitted": DOCKER_CAPS, "inheritable": [], "ambient": []}
    config["root"] = {"path": "rootfs", "readonly": False}
    config["hostname"] = "gradescope-sim"
    linux = config["linux"]
    linux["namespaces"] = [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")]
    linux.pop("uidMappings", None)
    linux.pop("gidMappings", None)
    linux["resources"] = {"devices": [{"allow": False, "access": "rwm"}],
                          "memory": {"limit": MEMORY_BYTES, "swap": MEMORY_BYTES},
                          "cpu": {"quota": CPU_QUOTA_US, "period": CPU_PERIOD_US,
                                  "shares": CPU_SHARES}}
    linux["cgroupsPath"] = f"/{name}"   # top level: its CPU shares count against the machine
    linux["seccomp"] = json.loads((HERE / "docker-default-seccomp.json").read_text())
    linux["maskedPaths"] = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                            "/sys/devices/virtual/powercap"]
    linux["readonlyPaths"] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"]
    return config


def _du(path: Path) -> int:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True).stdout
    return int(out.split()[0]) * 1024 if out else 0


def grade(notebook: Path, zip_path: Path = ROOT / "autograder" / "autograder.zip",
          env: dict[str, str] | None = None) -> dict:
    """Grade ``notebook`` once in a fresh container; see the module's docstring."""
    base, image = base_layer(), image_layer(zip_path)
    name = f"backprop-{os.getpid()}-{time.monotonic_ns()}"
    with tempfile.TemporaryDirectory(prefix="backprop-container-", dir=CACHE) as tmp:
        run = Path(tmp)
        for sub in ("upper", "work", "bundle/rootfs"):
            (run / sub).mkdir(parents=True)
        rootfs = run / "bundle" / "rootfs"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={image}:{base},upperdir={run / 'upper'},"
                        f"workdir={run / 'work'}", str(rootfs)], check=True)
        try:
            source = rootfs / "autograder" / "source"
            source.mkdir(parents=True)
            with zipfile.ZipFile(zip_path) as zf:
                zf.extractall(source)
            (source / "run_autograder").chmod(0o755)
            (rootfs / "autograder" / "submission").mkdir()
            (rootfs / "autograder" / "results").mkdir()
            shutil.copy(notebook, rootfs / "autograder" / "submission" / notebook.name)
            upper_before = _du(run / "upper")
            subprocess.run(["runc", "spec"], cwd=run / "bundle", check=True)
            spec = json.loads((run / "bundle" / "config.json").read_text())
            extra = [f"{k}={v}" for k, v in (env or {}).items()]
            (run / "bundle" / "config.json").write_text(json.dumps(_config(spec, name, extra)))
            start = time.perf_counter()
            proc = subprocess.run(["runc", "run", "-b", str(run / "bundle"), name],
                                  capture_output=True, text=True, timeout=1200)
            wall = time.perf_counter() - start
            left = subprocess.run(["runc", "state", name], capture_output=True, text=True)
            try:
                measured = json.loads(proc.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise RuntimeError(f"the container printed no result (runc exit status "
                                   f"{proc.returncode}):\n{proc.stdout[-2000:]}\n"
                                   f"{proc.stderr[-2000:]}") from None
            measured.update(container_wall_s=wall, upper_growth_mb=(_du(run / "upper")
                                                                    - upper_before) / 2**20,
                            container_left=left.returncode == 0)
            return measured
        finally:
            subprocess.run(["runc", "delete", "--force", name], capture_output=True)
            subprocess.run(["umount", str(rootfs)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--zip", type=Path, default=ROOT / "autograder" / "autograder.zip")
    args = parser.parse_args()
    reason = unavailable()
    if reason:
        raise SystemExit(f"cannot run the container here: {reason}")
    print(json.dumps(grade(args.notebook.resolve(), args.zip.resolve()), indent=1))


if __name__ == "__main__":
    main()
