"""A source of flags inside the worker: what student code tried, as its own process saw it.

The boundary around student code is the operating system (``isolation.py``). This module adds
a ``sys.addaudithook`` hook, installed before any student code runs, that refuses to read
outside an allow-list of directories (the submission's own directory, the Python
installation, a few system files) or inside the grader's directories, to write or delete
outside the submission's directory, to start processes, to open sockets, to signal other
processes, to trace the interpreter, to find objects through the garbage collector, to change
the policy's own functions and to call native code with ctypes. Each refusal is reported to
the grader, which adds a flag for the instructor.

The hook is written so that student code cannot switch it off from Python: it keeps no
mutable state, every function and table it uses is bound when it is installed (patching
``os``, ``posixpath``, ``json`` or ``builtins`` afterwards changes nothing), it only accepts
paths given as ``str``/``bytes`` (objects with ``__fspath__`` could answer differently each
time), and the C entry points that act without an audit event (``fork_exec``, ``mknod``,
loading a fresh copy of a native module...) are removed before student code runs.

It is still code inside the student's process: memory-level tricks (numpy arrays over raw
addresses) switch it off, and the process can suppress its reports. No guarantee rests on it
(see ``autograder/GRADING.md``).
"""

from __future__ import annotations

import _imp
import _stat
import os
import posix
import sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_NO_DIR_FD = (-1, getattr(os, "AT_FDCWD", -100))
# Exit code of a worker whose report channel was tampered with (closed, replaced, flooded).
REPORT_CHANNEL_BROKEN = 87
FIELD_SEP = "\x1f"

_DENIED_ALWAYS = {
    "subprocess.Popen": "started a process",
    "os.system": "started a process",
    "os.exec": "started a process",
    "os.posix_spawn": "started a process",
    "os.spawn": "started a process",
    "os.fork": "started a process",
    "os.forkpty": "started a process",
    "pty.spawn": "started a process",
    "socket.connect": "opened a network connection",
    "socket.bind": "opened a network socket",
    "socket.sendto": "sent network data",
    "socket.sendmsg": "sent network data",
    "resource.setrlimit": "changed resource limits",
    "resource.prlimit": "changed resource limits",
    "os.chdir": "changed the working directory",
    "sys.settrace": "traced the interpreter",
    "sys.setprofile": "traced the interpreter",
    "sys._current_frames": "inspected other threads' frames",
    "gc.get_objects": "searched the interpreter's objects",
    "gc.get_referrers": "searched the interpreter's objects",
    "gc.get_referents": "searched the interpreter's objects",
    "sqlite3.enable_load_extension": "loaded native code",
    "sqlite3.load_extension": "loaded native code",
}
# Events with paths that change the file system: (argument positions of paths that must lie
# in a writable directory, positions of dir_fd arguments that must be unused, fd allowed).
_WRITE_EVENTS = {
    "os.remove": ((0,), (1,), False),
    "os.rmdir": ((0,), (1,), False),
    "os.rename": ((0, 1), (2, 3), False),
    "os.replace": ((0, 1), (2, 3), False),
    "os.truncate": ((0,), (), True),
    "os.chmod": ((0,), (2,), False),
    "os.chown": ((0,), (3,), False),
    "os.link": ((0, 1), (2, 3), False),
    "os.symlink": ((0, 1), (2,), False),
    "os.mkdir": ((0,), (2,), False),
    "os.utime": ((0,), (3,), False),
    "os.setxattr": ((0,), (), False),
    "os.removexattr": ((0,), (), False),
    "shutil.rmtree": ((0,), (1,), False),
    "shutil.move": ((0, 1), (), False),
    "shutil.copyfile": ((1,), (), False),
    "shutil.copymode": ((1,), (), False),
    "shutil.copystat": ((1,), (), False),
    "shutil.chown": ((0,), (), False),
    "shutil.unpack_archive": ((1,), (), False),
    "shutil.make_archive": ((0,), (), False),
    "sqlite3.connect": ((0,), (), False),
}
_LIST_EVENTS = ("os.listdir", "os.scandir")
_DENIED_IMPORTS = frozenset({
    "_posixsubprocess", "_posixshmem", "_ctypes", "ctypes", "cffi", "_cffi_backend", "pty",
    "multiprocessing", "_multiprocessing", "otter", "backprop_reference", "gradekit",
    # native code that acts on other processes or the network without audit events
    "psutil", "zmq", "debugpy", "ptyprocess", "pexpect"})
# System files any Python program may read (everything else outside the allow-list is refused).
SYSTEM_READABLE = ("/usr", "/lib", "/lib64", "/etc", "/dev/null", "/dev/zero", "/dev/urandom",
                   "/dev/random", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat",
                   "/sys/devices/system/cpu", "/sys/fs/cgroup")
# C functions that act without raising an audit event; removed before student code runs.
_SILENT_FUNCTIONS = (("_posixsubprocess", "fork_exec"), ("posix", "mknod"),
                     ("posix", "mkfifo"), ("posix", "chroot"), ("signal", "pidfd_send_signal"),
                     ("_imp", "create_dynamic"), ("_imp", "create_builtin"),
                     ("_imp", "exec_dynamic"), ("_imp", "exec_builtin"))
_ALSO_FROM_OS = ("fork", "forkpty", "execv", "execve", "posix_spawn", "posix_spawnp", "system")


def python_roots() -> list[str]:
    """Directories of the running Python installation and its import path."""
    roots = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    roots += [p for p in sys.path if p and os.path.isabs(p)]
    return roots


def _realpath(path, cwd, _lstat=posix.lstat, _readlink=posix.readlink, _islink=_stat.S_ISLNK,
              _errors=(OSError, ValueError)):
    """``path`` made absolute (against ``cwd``) with every symlink resolved; None for a loop.

    Bound entirely to C functions at import, so patching ``os``/``posixpath`` has no effect.
    Components that do not exist are kept as written.
    """
    if not path.startswith("/"):
        path = cwd + "/" + path
    todo = path.split("/")
    todo.reverse()
    done = ""
    hops = 0
    while todo:
        name = todo.pop()
        if name == "" or name == ".":
            continue
        if name == "..":
            done = done[:done.rfind("/")] if done else ""
            continue
        step = done + "/" + name
        try:
            mode = _lstat(step).st_mode
        except _errors:
            done = step
            continue
        if not _islink(mode):
            done = step
            continue
        hops += 1
        if hops > 40:
            return None
        target = _readlink(step)
        if target.startswith("/"):
            done = ""
        parts = target.split("/")
        parts.reverse()
        todo.extend(parts)
    return done or "/"


def _under(path, roots):
    """Whether ``path`` is one of ``roots`` or inside one of them (all absolute, resolved)."""
    for root in roots:
        if path == root or path.startswith(root + "/") or root == "/":
            return True
    return False


def install(writable_roots: list[str], readable_roots: list[str], hidden_roots: list[str],
            report_fd: int) -> None:
    """Remove the silent C entry points and install the audit hook.

    ``writable_roots`` may be written (and read); ``readable_roots`` may be read;
    ``hidden_roots`` may never be read or listed, even inside a readable root. Each refusal is
    reported on ``report_fd`` as one line ``kind<US>detail`` and raises ``PermissionError``.
    """
    remove_silent_entry_points()
    resolve_root = lambda r: _realpath(os.path.abspath(r), "/")  # noqa: E731
    writable = tuple(sorted({resolve_root(r) for r in writable_roots}))
    readable = tuple(sorted({resolve_root(r) for r in [*readable_roots, *writable_roots]}))
    hidden = tuple(sorted({resolve_root(r) for r in hidden_roots if r}))
    pid = str(os.getpid())
    report_stat = os.fstat(report_fd)
    os.set_blocking(report_fd, False)
    hook = _make_hook(
        writable, readable + ("/proc/" + pid,), hidden, os.getcwd(), pid,
        _DENIED_IMPORTS, tuple(_DENIED_ALWAYS.items()), tuple(_WRITE_EVENTS.items()),
        report_fd, (report_stat.st_dev, report_stat.st_ino))
    sys.addaudithook(hook)


def _make_hook(writable, readable, hidden, cwd, pid, denied_imports, denied_events,
               write_events, report_fd, report_id):
    """Build the hook. Everything it needs is bound as a default argument (immutable)."""

    def hook(event, args, _type=type, _str=str, _bytes=bytes, _int=int, _len=len,
             _realpath=_realpath, _under=_under, _write=posix.write, _fstat=posix.fstat,
             _stat_path=posix.stat, _isdir=_stat.S_ISDIR, _exit=posix._exit,
             _denied=PermissionError, _errors=(OSError, ValueError), _dict=dict,
             _write_flags=_WRITE_FLAGS, _dir_flag=getattr(os, "O_DIRECTORY", 0),
             _no_dir_fd=_NO_DIR_FD, _list_events=_LIST_EVENTS,
             _writable=writable, _readable=readable, _hidden=hidden, _cwd=cwd, _pid=pid,
             _denied_imports=denied_imports, _denied_events=denied_events,
             _write_events=write_events, _report_fd=report_fd, _report_id=report_id,
             _sep=FIELD_SEP, _broken=REPORT_CHANNEL_BROKEN):

        def refuse(kind, detail):
            detail = _str.replace(_str.replace(detail[:300], "\n", " "), _sep, " ")
            line = _str.encode("\n" + kind + _sep + detail + "\n", "utf-8", "replace")
            try:
                st = _fstat(_report_fd)
                if (st.st_dev, st.st_ino) != _report_id or _write(_report_fd, line) != _len(line):
                    _exit(_broken)
            except _errors:
                _exit(_broken)
            raise _denied("not allowed while grading: " + kind + " (" + detail[:200] + ")")

        def path_of(raw):
            """(resolved path or None for an fd/None, problem or None)."""
            if raw is None or _type(raw) is _int:
                return None, None
            if _type(raw) is _bytes:
                raw = _bytes.decode(raw, "utf-8", "surrogateescape")
            elif _type(raw) is not _str:
                return None, "a path given as " + _type(raw).__name__ + " (use a str)"
            resolved = _realpath(raw, _cwd)
            if resolved is None:
                return None, "a path with a symlink loop"
            return resolved, None

        def check_read(raw, what):
            path, problem = path_of(raw)
            if problem:
                refuse("used " + problem, what)
            if path is None:
                return None
            if _under(path, _hidden):
                refuse("read grader files", path)
            if path.startswith("/proc/") and not _under(path, _readable):
                refuse("read another process's files", path)
            if not _under(path, _readable):
                refuse("read outside its directory", path)
            return path

        if event == "open":
            flags = args[2] if _len(args) > 2 and _type(args[2]) is _int else 0
            mode = args[1] if _len(args) > 1 and _type(args[1]) is _str else ""
            path, problem = path_of(args[0])
            if problem:
                refuse("used " + problem, "open")
            if path is None:
                return
            writing = (flags & _write_flags) or "w" in mode or "a" in mode or "x" in mode \
                or "+" in mode
            if writing and not _under(path, _writable):
                refuse("wrote outside its directory", path)
            check_read(path, "open")
            if not _under(path, _writable):
                is_dir = flags & _dir_flag
                if not is_dir:
                    try:
                        is_dir = _isdir(_stat_path(path).st_mode)
                    except _errors:
                        is_dir = False
                if is_dir:
                    refuse("opened a directory outside its own", path)
            return
        for name, (paths, dir_fds, fd_ok) in _write_events:
            if event != name:
                continue
            for i in dir_fds:
                if i < _len(args) and not (args[i] is None or (
                        _type(args[i]) is _int and args[i] in _no_dir_fd)):
                    refuse("changed files relative to a directory descriptor", event)
            for i in paths:
                if i >= _len(args):
                    continue
                if _type(args[i]) is _int and not fd_ok:
                    refuse("changed a file through a descriptor", event)
                path, problem = path_of(args[i])
                if problem:
                    refuse("used " + problem, event)
                if path is not None and not _under(path, _writable):
                    refuse("changed files outside its directory", event + " " + path)
            if name == "shutil.copyfile" and args:
                check_read(args[0], event)
            return
        if event in _list_events:
            if args and path_of(args[0])[0] != "/proc":  # listing /proc shows process ids only
                check_read(args[0], event)
            return
        if event == "import":
            module = args[0] if args and _type(args[0]) is _str else ""
            if module.split(".")[0] in _denied_imports:
                refuse("imported a forbidden module", module)
            return
        if event == "os.kill" or event == "os.killpg":
            if args and not (_type(args[0]) is _int and (_str(args[0]) == _pid or args[0] == 0)):
                refuse("sent a signal to another process", _str(args[0]))
            return
        if event == "object.__setattr__":
            if _len(args) > 1 and (args[0] is _realpath or args[0] is _under):
                refuse("rewrote the grader's policy", _str(args[1]))
            return
        for name, reason in _denied_events:
            if event == name:
                refuse(reason, event)
        if event.startswith("ctypes."):
            refuse("used ctypes to call native code", event)

    return hook


def remove_silent_entry_points() -> None:
    """Delete C functions that start processes, make device nodes or load fresh copies of
    native modules without an audit event, from every module that holds a reference.

    Anything a student may import later must be imported before this (a fresh native module
    cannot be loaded afterwards).
    """
    doomed = []
    for module_name, attr in _SILENT_FUNCTIONS:
        module = sys.modules.get(module_name)
        if module is None and module_name == "_posixsubprocess":
            continue
        if module is not None and hasattr(module, attr):
            doomed.append(getattr(module, attr))
    for attr in _ALSO_FROM_OS:
        if hasattr(posix, attr):
            doomed.append(getattr(posix, attr))
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for key, value in list(namespace.items()):
            if any(value is d for d in doomed):
                try:
                    del namespace[key]
                except (KeyError, TypeError):
                    pass
    for name in ("create_dynamic", "create_builtin", "exec_dynamic", "exec_builtin"):
        setattr(_imp, name, _no_native_modules)


def _no_native_modules(spec, *args):
    """Stands in for ``_imp.create_dynamic`` & co. once the policy is in force."""
    raise ImportError(f"the native module {getattr(spec, 'name', spec)!s:.100} cannot be loaded "
                      "while grading (only modules the kit imports in advance are available)")


# Standard-library modules student code may reasonably import. Native modules cannot be loaded
# once the policy is in force, so these (and their native parts) are imported up front.
STDLIB_WARM = (
    "array", "base64", "bisect", "bz2", "calendar", "cmath", "collections", "concurrent.futures",
    "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "enum",
    "fractions", "functools", "gzip", "hashlib", "heapq", "hmac", "html", "inspect", "itertools",
    "json", "locale", "lzma", "math", "numbers", "operator", "pathlib", "pickle", "pprint",
    "queue", "random", "re", "secrets", "statistics", "string", "struct", "textwrap", "threading",
    "time", "timeit", "traceback", "typing", "unicodedata", "uuid", "warnings", "weakref",
    "xml.etree.ElementTree", "zipfile", "zlib", "zoneinfo",
    "numpy.random", "numpy.linalg", "numpy.fft", "numpy.polynomial", "numpy.ma", "numpy.lib",
    "numpy.testing", "numpy.exceptions", "numpy.dtypes", "numpy.char", "numpy.rec",
    "numpy.strings", "numpy.emath")


# Drawing and saving figures loads these native parts of matplotlib lazily.
MATPLOTLIB_WARM = ("matplotlib.pyplot", "matplotlib.backends.backend_agg", "matplotlib._image",
                   "matplotlib._path", "matplotlib.ft2font", "matplotlib.tri", "matplotlib._tri",
                   "matplotlib._qhull", "matplotlib.colorbar", "PIL.Image", "PIL.PngImagePlugin",
                   "kiwisolver", "contourpy")


# Packages that draw with matplotlib: importing one warms matplotlib's native parts too.
DRAWING_PACKAGES = frozenset({"matplotlib", "seaborn"})

# Third-party packages a notebook may import (warmed only when it does, and when installed).
SCIENCE_PACKAGES = frozenset({"numpy", "matplotlib", "pandas", "scipy", "sklearn", "PIL",
                              "seaborn", "tqdm", "sympy", "statsmodels", "torch"})
_NEVER_WARM = frozenset({"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo",
                         "webbrowser", "pydoc", "ensurepip", "venv", "lib2to3"})


def safe_to_warm(name: str) -> bool:
    """Whether a module a notebook imports may be imported for it before the policy."""
    top = name.split(".")[0]
    if top in _DENIED_IMPORTS or top in _NEVER_WARM or top.startswith("_"):
        return False
    return top in sys.stdlib_module_names or top in SCIENCE_PACKAGES


def import_all(names: list[str] | tuple[str, ...]) -> None:
    """Import each module of ``names`` that is installed."""
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def warm_imports(extra: list[str] | tuple[str, ...] = (),
                 when_drawing: tuple[str, ...] = ()) -> None:
    """Import what student code needs before the policy removes native-module loading:
    a fixed list, plus ``extra`` modules the notebook imports (see ``safe_to_warm``), and
    matplotlib's native parts and ``when_drawing`` when ``extra`` names matplotlib (it costs
    about 0.5 s and 30 MB, so notebooks that do not draw go without it)."""
    wanted = [n for n in extra if safe_to_warm(n)]
    import_all([*STDLIB_WARM, *wanted])
    if not any(n.split(".")[0] in DRAWING_PACKAGES for n in wanted):
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        return
    import_all([*MATPLOTLIB_WARM, *when_drawing])


def read_reports(data: bytes) -> list[dict]:
    """Parse report lines written by the hook (``kind<US>detail``); junk lines are ignored."""
    events = []
    for line in data.decode("utf-8", "replace").splitlines():
        if FIELD_SEP not in line:
            continue
        kind, _, detail = line.partition(FIELD_SEP)
        events.append({"kind": kind[:100], "detail": detail[:300]})
    return events
