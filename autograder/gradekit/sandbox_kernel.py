"""Start an IPython kernel for ``otter run`` with the grading policy in force.

Registered as the kernel ``backprop-sandbox`` by ``otter_stage.py``. The policy
(``BACKPROP_KERNEL_POLICY``, JSON) gives the memory limit, the only directory the kernel
may write to, the grader directories it may not read, and a file descriptor for reports.
The kernel's sockets are set up first; then the audit hook goes in, before any cell runs.
"""

from __future__ import annotations

import json
import os
import resource
import sys


def main() -> None:
    config = json.loads(os.environ.pop("BACKPROP_KERNEL_POLICY"))
    memory = int(config["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    from ipykernel.kernelapp import IPKernelApp

    from gradekit import policy

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])
    report_fd = os.open(config["report_path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    policy.disable_process_spawning()
    policy.install(config["writable_roots"], config["hidden_roots"],
                   policy.fd_reporter(report_fd),
                   allow_imports=("otter", "backprop_reference", "multiprocessing",
                                  "_multiprocessing", "ctypes", "_ctypes"),
                   allow_loopback=True, allow_ctypes=True)
    app.start()


if __name__ == "__main__":
    main()
