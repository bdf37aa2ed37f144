"""Start an IPython kernel for ``otter run`` with the grading policy in force.

Registered as the kernel ``backprop-sandbox`` by ``otter_stage.py``. The policy
(``BACKPROP_KERNEL_POLICY``, JSON) gives the memory limit, the directories the kernel may
write to and read from, the grader directories it may not read, a file for reports, and the
modules the notebook imports (``warm``, as for the trusted worker).
The kernel dies with the process that started it (so a notebook stuck in a loop cannot
outlive the cross-check). The kernel's sockets are set up and everything otter's in-kernel
grading needs is imported first; then the audit hook goes in, before any cell runs.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

# Imported before the policy: native modules cannot be loaded once it is in force.
KERNEL_WARM = ("otter", "otter.check", "otter.execute", "otter.test_files", "otter.check.notebook",
               "otter.run.run_autograder", "dill", "pandas", "nbformat", "zmq.utils.garbage")
# ipykernel's inline figures, when the notebook draws (``warm`` names matplotlib)
INLINE_FIGURES_WARM = ("matplotlib_inline.backend_inline",)
PR_SET_PDEATHSIG = 1


def main() -> None:
    config = json.loads(os.environ.pop("BACKPROP_KERNEL_POLICY"))
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    memory = int(config["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    from ipykernel.kernelapp import IPKernelApp

    from gradekit import policy

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])
    policy.import_all(KERNEL_WARM)
    policy.warm_imports([str(name) for name in config.get("warm", [])],
                        when_drawing=INLINE_FIGURES_WARM)
    report_fd = os.open(config["report_path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    policy.install(config["writable_roots"],
                   [*config["readable_roots"], *policy.python_roots(), *policy.SYSTEM_READABLE],
                   config["hidden_roots"], report_fd,
                   allow_imports=("otter", "backprop_reference", "multiprocessing",
                                  "_multiprocessing", "zmq"),
                   allow_loopback=True)
    app.start()


if __name__ == "__main__":
    main()
