"""A predictor's remote artifact downloaded on another core while the server starts.

Most of a predictor's start is importing Python code: the server, then the model's
framework (``import sklearn`` alone is one to two seconds). The download before the load
is mostly Python too (building the S3 client, tenths of a second to a second), so a thread
would take turns with the imports under the GIL. ``start`` instead forks, first thing, a
child that fetches the artifact into the cache folder, while this process imports its
server and then the framework the artifact will need (``Prefetch.wait``).

The child only fills the cache: whatever it achieves, the predictor then fetches as it
always does. A complete download is found in the cache (``storage.fetch`` renames it into
place only when complete); anything else is fetched again there, so a failure is
reported as without a child, with its reason. The checksum, the format and the load are
the predictor's own steps, after the wait, as before.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

from modelops_runtime import storage
from modelops_runtime.artifacts import XGBOOST_FORMATS, Format, format_from_name
from modelops_runtime.errors import ArtifactError

LOCAL_SCHEMES = ("file", "pvc")


def framework_module(uri: str, declared_format: str = "") -> str:
    """The module a model at ``uri`` imports as it loads, judged from the declared format
    or the URI's file name: ``xgboost`` for XGBoost's own files, else scikit-learn's base,
    which every other format we serve needs (XGBoost's scikit-learn wrappers import it
    too). A guess that is wrong costs an import, never a wrong load."""
    try:
        artifact_format = (
            Format(declared_format) if declared_format else format_from_name(urlparse(uri).path)
        )
    except ValueError:
        artifact_format = None
    if artifact_format in XGBOOST_FORMATS:
        return "xgboost"
    return "sklearn.base"


class Prefetch:
    """A child process fetching ``uri`` into ``cache_dir``."""

    def __init__(self, pid: int, module: str) -> None:
        self.pid = pid
        self.module = module
        self._lock = threading.Lock()
        self._waited = False

    def wait(self) -> None:
        """Import the framework while the child works, then wait until it has ended."""
        with contextlib.suppress(Exception):  # the load imports it again and says why
            importlib.import_module(self.module)
        with self._lock:
            if not self._waited:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.pid, 0)
                self._waited = True


def start(uri: str, cache_dir: Path, declared_format: str = "") -> Prefetch | None:
    """Fork a child that downloads ``uri`` into the cache, or None when there is nothing
    to download (a local path) or the URI is not one we can fetch (the load says why).

    Call it before any thread is started: the child runs only ``storage.fetch``."""
    try:
        if storage.scheme_of(uri) in LOCAL_SCHEMES:
            return None
    except ArtifactError:
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends in os._exit, which coverage does not see
        code = 1
        try:
            storage.fetch(uri, cache_dir)
            code = 0
        except BaseException:
            pass
        finally:
            os._exit(code)
    return Prefetch(pid, framework_module(uri, declared_format))
