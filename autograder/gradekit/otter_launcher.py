"""The ``otter run`` process of the cross-check (started by ``otter_stage.py``).

Otter reads back what the notebook's kernel produced with ``pickle``: the grading results
the kernel writes to a file, and the log records the kernel sends to a logging socket. Student
code shares that kernel, so both are student-controlled, and unpickling them would run
student-chosen code in this process, outside the kernel's policy. Here both go through an
unpickler that only builds plain data and otter's own result classes.

Started as ``python -I -B -c otter_stage.LAUNCHER CONFIG_JSON``.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sys
import types

# Whole classes otter's results are made of; anything else in a pickle is refused.
_PLAIN = {"builtins": {"dict", "list", "tuple", "set", "frozenset", "str", "bytes", "int",
                       "float", "complex", "bool", "NoneType", "slice", "object"},
          "collections": {"OrderedDict"},
          "copyreg": {"_reconstructor"}}


class RefusedPickle(pickle.UnpicklingError):
    """A pickle named something that is not plain data or one of otter's result classes."""


class RestrictedUnpickler(pickle.Unpickler):
    """Builds plain data and instances of classes defined in otter's own modules."""

    def __init__(self, file, allow_otter: bool = True):
        super().__init__(file)
        self.allow_otter = allow_otter

    def find_class(self, module: str, name: str):
        if "." in name or name.startswith("__"):
            raise RefusedPickle(f"refused {module}.{name}")
        if name in _PLAIN.get(module, ()):
            return super().find_class(module, name)
        if self.allow_otter and (module == "otter" or module.startswith("otter.")):
            value = super().find_class(module, name)
            if isinstance(value, type) and value.__module__ == module:
                return value
        raise RefusedPickle(f"refused {module}.{name}")


def load_results(file, **_kwargs):
    return RestrictedUnpickler(file).load()


def load_log_record(_handler, data: bytes):
    return RestrictedUnpickler(io.BytesIO(data), allow_otter=False).load()


def main() -> None:
    config = json.loads(sys.argv[1])
    import nbconvert.preprocessors as preprocessors
    from traitlets import Bool, Enum, Integer

    class TimedExecutePreprocessor(preprocessors.ExecutePreprocessor):
        timeout = Integer(config["cell_timeout"], allow_none=True).tag(config=True)
        interrupt_on_timeout = Bool(True).tag(config=True)
        startup_timeout = Integer(120).tag(config=True)
        # the results are on disk when the last cell ends; a graceful shutdown only waits
        shutdown_kernel = Enum(["graceful", "immediate"], "immediate").tag(config=True)

    preprocessors.ExecutePreprocessor = TimedExecutePreprocessor
    import otter.execute
    import otter.execute.logging

    otter.execute.pickle = types.SimpleNamespace(load=load_results, dump=pickle.dump)
    otter.execute.logging.LogRecordStreamHandler.unpickle = load_log_record
    from otter.run import main as otter_run

    otter_run(config["submission"], autograder=config["autograder"],
              output_dir=config["output_dir"], no_logo=True)
    # Everything otter writes is on disk now. Its log receiver thread checks its stop flag
    # once a second, and a normal exit would wait for it (0.5 s per grading on average).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
