"""`python -m amlops.serving.launch PARENT_PID COMMAND...`: run COMMAND (by exec, same pid) so that
it gets SIGTERM when the process PARENT_PID dies (Linux's PR_SET_PDEATHSIG, kept across exec).

GunicornServer starts gunicorn through this, rather than with a preexec_fn: a preexec_fn runs
between fork and exec, which is unsafe when the parent has other threads (a status spinner, a
load generator). The signal follows the thread that started the child: start servers from a
thread that lives as long as they should (the main thread, in amlops).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, command = int(argv[0]), argv[1:]
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the signal was armed
        sys.exit(1)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
