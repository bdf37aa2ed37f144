"""The untrusted side: runs a submission's code and answers the grader's calls.

Started by ``sandbox.Sandbox`` as ``python -I -m gradekit.worker REQ_FD RESP_FD AUDIT_FD CONFIG``,
isolated by ``isolation.py``, in a fresh directory holding only the submission's support
files. It:

1. imports numpy, then gives up root for its own user id if it was started as root inside
   the sandbox, and sets its process-count limit;
2. puts a do-nothing ``otter`` module in place, so ``grader.check(...)`` cells cost nothing;
3. installs the sandbox policy (``policy.py``) and silences stdout/stderr into a capped log;
4. executes the cells it is sent, one at a time, each under a soft time limit;
5. serves ``call`` / ``getattr`` / ``setattr`` / ``getitem`` / ``len`` requests on student
   objects, and ``kit_call`` of the kit's functions (``KIT_FUNCTIONS``), returning plain data
   or opaque handles (``wire.py``).

Nothing this process says is trusted: the grader judges every value it returns.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import signal
import sys
import types
import warnings

import numpy as np

from gradekit import policy, wire

OUTPUT_CAP_BYTES = 1 << 20
# Kit classes the grader may send by value (``$kit``): name -> class.
KIT_CLASSES: dict[str, type] = {}


class RepairedLayer:
    """A student's layer as the checks of later questions use it where it cannot run as
    written (error carried forward): its ``forward`` input kept as ``x`` (the name the notebook
    suggests) when it keeps none there, and ``dW`` and ``db`` left in the shapes of ``W`` and
    ``b`` when only their shape is wrong (``db`` kept 2-D, say). Everything else is the
    layer's own."""

    def __init__(self, layer):
        object.__setattr__(self, "_layer", layer)

    def __getattr__(self, name: str):
        return getattr(object.__getattribute__(self, "_layer"), name)

    def __setattr__(self, name: str, value) -> None:
        setattr(object.__getattribute__(self, "_layer"), name, value)

    def forward(self, x):
        layer = object.__getattribute__(self, "_layer")
        out = layer.forward(x)
        if getattr(layer, "x", None) is None:
            layer.x = x
        return out

    def backward(self, grad_out):
        layer = object.__getattribute__(self, "_layer")
        result = layer.backward(grad_out)
        for grad, param in (("dW", "W"), ("db", "b")):
            g, p = getattr(layer, grad, None), getattr(layer, param, None)
            if (isinstance(g, np.ndarray) and isinstance(p, np.ndarray)
                    and g.shape != p.shape and g.size == p.size):
                setattr(layer, grad, g.reshape(p.shape))
        return result


# The kit's functions a check may run where student code runs (``Remote.kit_function``);
# ``main`` adds those of backprop_support.
KIT_FUNCTIONS: dict[str, object] = {"repaired_layer": RepairedLayer}


class SoftTimeout(BaseException):
    """Raised in student code when its time is up (BaseException so `except Exception` misses it)."""


class CappedWriter(io.TextIOBase):
    """A text stream that keeps the first ``cap`` bytes and drops the rest."""

    def __init__(self, path: str, cap: int):
        self._fh = open(path, "w", encoding="utf-8", errors="replace")
        self._left = cap

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if self._left > 0:
            chunk = s[: self._left]
            self._fh.write(chunk)
            self._left -= len(chunk)
            if self._left <= 0:
                self._fh.write("\n[output truncated]\n")
            self._fh.flush()
        return len(s)


def _fake_otter() -> types.ModuleType:
    module = types.ModuleType("otter")

    class Notebook:
        def __init__(self, *args, **kwargs):
            pass

        def __getattr__(self, name):
            return lambda *args, **kwargs: None

    module.Notebook = Notebook
    return module


def _strip_magics(source: str) -> str:
    """Drop IPython magics and shell escapes; they mean nothing to the grader."""
    if source.lstrip().startswith("%%"):
        return ""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


class Worker:
    def __init__(self, req_fd: int, resp_fd: int):
        self.req_fd, self.resp_fd = req_fd, resp_fd
        self.namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
        self.objects: dict[int, object] = {}
        self.blobs: list[bytes] = []

    # -- handles ---------------------------------------------------------
    def to_ref(self, value) -> dict:
        key = id(value)
        self.objects[key] = value
        return {"$ref": key, "type": f"{type(value).__module__}.{type(value).__qualname__}"[:200]}

    def from_ref(self, key: int, _type: str):
        if key not in self.objects:
            raise KeyError(f"unknown handle {key}")
        return self.objects[key]

    def extra(self, node: dict):
        if "$kit" in node:
            cls = KIT_CLASSES.get(node["$kit"])
            if cls is None:
                raise wire.WireError("unknown kit class")
            state = wire.decode(node["state"], self.blobs, self.from_ref, self.extra)
            obj = cls.__new__(cls)
            obj.__dict__.update(state)
            return obj
        if "$rng" in node:
            state = node["$rng"]
            if state.get("bit_generator") != "PCG64":
                raise wire.WireError("only PCG64 generators are supported")
            bit_gen = np.random.PCG64()
            bit_gen.state = state
            return np.random.Generator(bit_gen)
        raise wire.WireError("unknown value tag")

    # -- requests --------------------------------------------------------
    def handle(self, msg: dict, blobs: list[bytes]):
        op = msg.get("op")
        self.blobs = blobs
        arg = lambda node: wire.decode(node, blobs, self.from_ref, self.extra)  # noqa: E731
        if op == "exec":
            source = _strip_magics(msg["source"])
            code = compile(source, f"<cell {msg.get('cell', '?')}>", "exec")
            exec(code, self.namespace)  # noqa: S102 - running student code is the point
            return None
        if op == "global":
            name = msg["name"]
            if name not in self.namespace:
                return {"$missing": True}
            return self.namespace[name]
        if op == "kit_call":
            function = KIT_FUNCTIONS.get(str(msg.get("name")))
            if function is None:
                raise wire.WireError("unknown kit function")
            return function(*arg(msg["args"]))
        target = self.from_ref(int(msg["ref"]), "")
        if op == "call":
            args = arg(msg["args"])
            kwargs = arg(msg["kwargs"])
            return target(*args, **kwargs)
        if op == "call_many":
            calls = arg(msg["calls"])
            if type(calls) is not list or not all(type(c) is list for c in calls):
                raise wire.WireError("call_many takes a list of argument lists")
            return [target(*args) for args in calls]
        if op == "getattr":
            return getattr(target, str(msg["name"]))
        if op == "setattr":
            setattr(target, str(msg["name"]), arg(msg["value"]))
            return None
        if op == "getitem":
            return target[arg(msg["key"])]
        if op == "len":
            return len(target)
        raise ValueError(f"unknown op {op!r}")

    def reply(self, message: dict, value=None) -> None:
        blobs: list[bytes] = []
        try:
            if value is not None and isinstance(value, dict) and value.get("$missing") is True:
                message["value"] = {"$missing": True}
            else:
                message["value"] = wire.encode(value, blobs, self.to_ref)
        except Exception as exc:  # noqa: BLE001 - an unsendable value is the student's problem
            blobs = []
            message = {"error": {"type": type(exc).__name__, "message": str(exc)[:500],
                                 "phase": "encode"}}
        wire.write_frame(self.resp_fd, wire.pack(message, blobs))

    def serve(self) -> None:
        while True:
            try:
                body = wire.read_frame(self.req_fd)
            except EOFError:
                return
            msg, blobs = wire.unpack(body)
            timeout = float(msg.get("timeout", 0) or 0)
            if timeout > 0:
                signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    value = self.handle(msg, blobs)
                signal.setitimer(signal.ITIMER_REAL, 0)
                self.reply({"ok": True, "warnings": [str(w.message)[:200] for w in caught[:5]]},
                           value)
            except SoftTimeout:
                signal.setitimer(signal.ITIMER_REAL, 0)
                self.reply({"error": {"type": "Timeout", "message": f"over {timeout:g} s"}})
            except BaseException as exc:  # noqa: BLE001 - report everything, keep serving
                signal.setitimer(signal.ITIMER_REAL, 0)
                if isinstance(exc, KeyboardInterrupt):
                    exc = RuntimeError("KeyboardInterrupt")
                kind = "MemoryError" if isinstance(exc, MemoryError) else type(exc).__name__
                self.reply({"error": {"type": kind, "message": _message(exc),
                                      "line": _student_line(exc)}})


def _message(exc: BaseException) -> str:
    """``str(exc)``, capped; an exception whose ``__str__`` fails is described, not raised.
    A syntax error's own text only: its cell and line are reported apart."""
    try:
        if isinstance(exc, SyntaxError):
            return str(exc.msg)[:2000]
        return str(exc)[:2000]
    except BaseException:  # noqa: BLE001 - student-defined __str__ may do anything
        return "(the exception's message could not be read)"


def _student_line(exc: BaseException) -> str:
    """``cell N, line L`` of the innermost frame in student code (or of a syntax error)."""
    where, tb = "", exc.__traceback__
    if isinstance(exc, SyntaxError) and str(exc.filename).startswith("<cell"):
        where = f"{str(exc.filename).strip('<>')}, line {exc.lineno}"
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.startswith("<cell"):
            where = f"{name.strip('<>')}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _raise_soft_timeout(signum, frame):
    raise SoftTimeout()


def _give_up_privileges(uid: int | None, processes: int, workdir: str,
                        kit: str | None) -> None:
    """Before any student code: the student's own copies of the kit files (``kit``: where the
    sandbox shows them read-only), a user of its own when started as root (the sandbox's
    namespaces level), and the process-count limit, which counts that user's processes."""
    for name in sorted(os.listdir(kit)) if kit else []:
        shutil.copyfile(os.path.join(kit, name), os.path.join(workdir, name))
        if uid is not None:
            os.chown(os.path.join(workdir, name), uid, uid)
    if uid is not None:
        os.chown(workdir, uid, uid)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def main() -> None:
    req_fd, resp_fd, audit_fd = (int(a) for a in sys.argv[1:4])
    config = json.loads(sys.argv[4])
    workdir = config["workdir"]
    os.chdir(workdir)
    _give_up_privileges(config.get("uid"), int(config["processes"]), workdir, config.get("kit"))
    sys.path.insert(0, workdir)
    sys.modules["otter"] = _fake_otter()
    # Warm the modules student code commonly needs before the policy is in force.
    import backprop_support  # noqa: F401
    KIT_CLASSES["MLP"] = backprop_support.MLP   # bound before any student code runs
    KIT_FUNCTIONS["forward_cached"] = backprop_support.forward_cached
    policy.warm_imports(config.get("warm", []))
    if config.get("policy", True):
        policy.install([workdir, os.devnull], [*policy.python_roots(), *policy.SYSTEM_READABLE],
                       config.get("hidden_roots", []), audit_fd)
    # file descriptors 1 and 2 are /dev/null already (the grader starts the worker so)
    sys.stdout = sys.stderr = CappedWriter(os.path.join(workdir, ".worker-output.log"),
                                           OUTPUT_CAP_BYTES)
    signal.signal(signal.SIGALRM, _raise_soft_timeout)
    np.seterr(all="ignore")
    np.random.seed(0)  # code drawing from the global generator grades the same every time
    Worker(req_fd, resp_fd).serve()


if __name__ == "__main__":
    main()
