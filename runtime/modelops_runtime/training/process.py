"""Run a child process as the pod's own output: its stdout and stderr are copied to ours
as they come (so ``kubectl logs`` shows them), its last lines are kept for the result,
and a SIGTERM or SIGINT sent to us (a cancelled run, a deadline) is passed on to it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

TAIL_LINES = 20
TAIL_CHARS = 2000
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Finished:
    """How a child ended: its exit code (128 + N when killed by signal N, as a shell
    says it), the signal's name if any, and its last lines of output."""

    exit_code: int
    signal_name: str
    tail: str
    last_error: str = ""
    """The last non-blank line on stderr (where a traceback's verdict is), or else on
    stdout: the two pipes race, so the tail's order alone cannot say which came last."""

    def describe(self) -> str:
        if self.signal_name:
            hint = " (out of memory?)" if self.signal_name == "SIGKILL" else ""
            return f"was killed by {self.signal_name}{hint}"
        return f"exited with code {self.exit_code}"


class Tail:
    """The last lines of each stream, whole lines: the output's, then the errors'. The two
    pipes are read apart, so no order between them can be told; the errors come last,
    where a reader (and the size bound) looks first."""

    def __init__(self, lines: int = TAIL_LINES) -> None:
        self._lines: dict[bool, deque[str]] = {
            False: deque(maxlen=lines),
            True: deque(maxlen=lines),
        }
        self._last: dict[bool, str] = {}
        self._lock = threading.Lock()

    def add(self, line: bytes, is_error: bool = False) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        with self._lock:
            self._lines[is_error].append(text)

    def last_error(self) -> str:
        """The errors' last non-blank line, or else the output's."""
        with self._lock:
            for is_error in (True, False):
                for line in reversed(self._lines[is_error]):
                    if line.strip():
                        return line.strip()
        return ""

    def text(self, chars: int = TAIL_CHARS) -> str:
        with self._lock:
            joined = "\n".join([*self._lines[False], *self._lines[True]])
        return joined[-chars:]


def run(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path | None = None,
    tail_lines: int = TAIL_LINES,
) -> Finished:
    """Run ``argv`` to its end with its output streamed to ours; never raises for the
    child's failure (an ``OSError`` if it cannot be started at all)."""
    tail = Tail(tail_lines)
    child = subprocess.Popen(
        list(argv), env=dict(env), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None
    assert child.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(child.stdout, sys.stdout, tail, False), daemon=True),
        threading.Thread(target=_pump, args=(child.stderr, sys.stderr, tail, True), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    with _passing_signals_to(child):
        code = child.wait()
    for pump in pumps:
        pump.join()
    if code < 0:
        return Finished(128 - code, signal.Signals(-code).name, tail.text(), tail.last_error())
    return Finished(code, "", tail.text(), tail.last_error())


def _pump(source: IO[bytes], sink: Any, tail: Tail, is_error: bool) -> None:
    """Copy ``source`` to ``sink`` chunk by chunk (a line without its end yet is shown at
    once), and feed whole lines to the tail."""
    out = getattr(sink, "buffer", None)
    partial = b""
    while chunk := source.read1(_CHUNK):  # type: ignore[attr-defined]
        if out is not None:
            out.write(chunk)
            out.flush()
        else:  # a text stream without bytes beneath (a test's capture)
            sink.write(chunk.decode("utf-8", "replace"))
        *lines, partial = (partial + chunk).split(b"\n")
        for line in lines:
            tail.add(line, is_error)
    if partial:
        tail.add(partial, is_error)
    source.close()


@contextmanager
def _passing_signals_to(child: subprocess.Popen[bytes]) -> Iterator[None]:
    """While the child runs, a SIGTERM or SIGINT to us goes to it; it decides how to end.
    (Only the main thread can set handlers; elsewhere signals keep their handling.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def forward(signum: int, _frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
