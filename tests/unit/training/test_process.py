"""A child's output goes to ours as it comes, and its last lines are kept."""

from __future__ import annotations

import os
import sys

import pytest

from modelops_runtime.training.process import Finished, Tail, run

SCRIPT = r"""
import sys, time
for i in range(30):
    print(f"out {i}", flush=True)
print("err: about to fail", file=sys.stderr, flush=True)
sys.stdout.write("no newline at the end")
sys.exit(3)
"""


def test_output_is_streamed_and_the_tail_kept(capfd: pytest.CaptureFixture[str]) -> None:
    finished = run([sys.executable, "-c", SCRIPT], dict(os.environ), tail_lines=40)
    assert (finished.exit_code, finished.signal_name) == (3, "")
    assert finished.describe() == "exited with code 3"
    lines = finished.tail.splitlines()
    # Both streams, each in its order (the two pipes are read apart: no order between them).
    assert [line for line in lines if line.startswith("out ")] == [f"out {i}" for i in range(30)]
    assert "err: about to fail" in lines
    assert "no newline at the end" in lines
    out, err = capfd.readouterr()
    assert out.startswith("out 0\nout 1\n")
    assert out.endswith("out 29\nno newline at the end")
    assert err == "err: about to fail\n"


def test_the_last_error_line_is_stderrs_even_when_stdout_is_flushed_after_it() -> None:
    # A Python child's stdout into a pipe is block-buffered: its prints arrive at exit,
    # after the traceback on stderr.
    code = "import sys\nprint('step 29: loss 0.033')\nraise ValueError('no rows')"
    finished = run([sys.executable, "-c", code], dict(os.environ))
    assert finished.last_error == "ValueError: no rows"
    quiet = run([sys.executable, "-c", "print('only out'); raise SystemExit(2)"], dict(os.environ))
    assert quiet.last_error == "only out"


def test_only_the_last_lines_are_kept() -> None:
    code = "for i in range(1000): print(f'line {i}')"
    finished = run([sys.executable, "-c", code], dict(os.environ), tail_lines=5)
    assert finished.tail.splitlines() == [f"line {i}" for i in range(995, 1000)]


def test_a_killed_child_says_by_which_signal() -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    finished = run([sys.executable, "-c", code], dict(os.environ))
    assert (finished.exit_code, finished.signal_name) == (137, "SIGKILL")
    assert finished.describe() == "was killed by SIGKILL (out of memory?)"
    assert Finished(143, "SIGTERM", "").describe() == "was killed by SIGTERM"


def test_a_child_that_cannot_start_raises() -> None:
    with pytest.raises(FileNotFoundError, match="/nonexistent/python"):
        run(["/nonexistent/python"], {})


def test_the_tail_keeps_whole_lines_and_a_bounded_size() -> None:
    tail = Tail(lines=3)
    for i in range(10):
        tail.add(f"line {i}\r\n".encode())
    tail.add("caf\xe9".encode("latin-1"))  # not UTF-8: replaced, never an error
    assert tail.text() == "line 8\nline 9\ncaf\ufffd"
    assert tail.text(chars=8) == "e 9\ncaf\ufffd"


def test_the_errors_last_lines_are_kept_whichever_pipe_is_read_last() -> None:
    # Under load the output's pump may run after the errors' one: the errors' lines must
    # not be pushed out of the tail by output written before them.
    tail = Tail(lines=20)
    tail.add(b"loading the held-out day", is_error=True)
    tail.add(b"ValueError: no rows", is_error=True)
    for step in range(30):
        tail.add(f"step {step}".encode())
    lines = tail.text().splitlines()
    assert lines[-2:] == ["loading the held-out day", "ValueError: no rows"]
    assert lines[:-2] == [f"step {step}" for step in range(10, 30)]
    assert tail.last_error() == "ValueError: no rows"
