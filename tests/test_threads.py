"""The thread pools of the passes in a process forked after they ran (multiprocessing's
default start method on Linux)."""

import os
import time

from xaikit.engine.threads import ordered_map


def test_a_forked_child_runs_threaded_passes():
    work = lambda worker, job: job * 2  # noqa: E731
    assert list(ordered_map(work, range(8), threads=2)) == list(range(0, 16, 2))
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its passes finish with the right results
        ok = list(ordered_map(work, range(8), threads=2)) == list(range(0, 16, 2))
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 60
    while (ended := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if ended[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert ended[0] == pid, "the forked child's passes never finished"
    assert os.waitstatus_to_exitcode(ended[1]) == 0
