"""A predictor's remote artifact downloaded on another core while the server starts.

Most of a predictor's start is importing Python code: the server, then the model's
framework (``import sklearn`` alone is one to two seconds). The download before the load
is mostly Python too (building the S3 client, tenths of a second to a second), so a thread
would take turns with the imports under the GIL. ``start`` instead forks, first thing, a
child that fetches the artifact into the cache folder, while this process imports its
server and then the framework the artifact will need (``Prefetch.wait``), without what
that import brings for nothing (``import_framework``).

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
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from urllib.parse import urlparse

from modelops_runtime import storage
from modelops_runtime.artifacts import XGBOOST_FORMATS, Format, format_from_name, locate
from modelops_runtime.errors import ArtifactError

LOCAL_SCHEMES = ("file", "pvc")


def framework_module(uri: str, declared_format: str = "") -> str:
    """The module a model at ``uri`` imports as it loads, judged from the declared format
    or the URI's file name: ``xgboost`` for XGBoost's own files (a Booster), else
    scikit-learn's base, which every other format we serve needs (XGBoost's scikit-learn
    wrappers included). A guess that is wrong costs an import, never a wrong load: a file
    named or declared as XGBoost's own that is not is refused by its format check."""
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
    """The framework's import to come and, for a remote artifact, the child process
    fetching it into the cache folder."""

    def __init__(self, pid: int | None, module: str) -> None:
        self.pid = pid
        """The child's, or None when there is nothing to download."""
        self.module = module
        self._lock = threading.Lock()
        self._waited = False

    def wait(self) -> None:
        """Import the framework while the child works, then wait until it has ended."""
        with contextlib.suppress(Exception):  # the load imports it again and says why
            import_framework(self.module)
        with self._lock:
            if not self._waited and self.pid is not None:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.pid, 0)
            self._waited = True


def import_framework(module: str) -> None:
    """Import what ``framework_module`` named, without what that import brings for
    nothing, each hidden while it runs (as if not installed, which both libraries allow):

    - pandas, which scikit-learn imports at its start only to note its version (~0.5 s).
      It is imported on first use instead: by a load that unpickles pandas objects, by
      the first request with named columns.
    - for a Booster, scikit-learn itself: XGBoost imports it (most of the two seconds
      ``import xgboost`` takes) for its ``XGBClassifier`` family, which a Booster never
      uses and this process will not want later.

    What was imported before is not undone (``sys.modules`` comes before any finder).
    Only a process that serves or verifies one model calls this (``serve``, ``fetch``)."""
    hidden = _Hidden(("pandas", "sklearn") if module == "xgboost" else ("pandas",))
    sys.meta_path.insert(0, hidden)
    try:
        importlib.import_module(module)
    finally:
        sys.meta_path.remove(hidden)


class _Hidden:
    """An import finder that reports some packages and their modules as not installed."""

    def __init__(self, packages: tuple[str, ...]) -> None:
        self.packages = packages

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name.partition(".")[0] in self.packages:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def start(uri: str, cache_dir: Path, declared_format: str = "") -> Prefetch:
    """Fork a child that downloads ``uri`` into the cache. Without one when there is
    nothing to download (a local path, judged by the name of the model file there) or the
    URI is not one we can fetch (the load says why): then the framework is imported all
    the same.

    Call it before any thread is started: the child runs only ``storage.fetch``."""
    try:
        local = storage.scheme_of(uri) in LOCAL_SCHEMES
    except ArtifactError:
        return Prefetch(None, framework_module(uri, declared_format))
    if local:
        return Prefetch(None, framework_module(_local_model_file(uri, cache_dir), declared_format))
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


def _local_model_file(uri: str, cache_dir: Path) -> str:
    """The path of the model file a local ``uri`` names (a folder's one model file, as
    the load finds it), or ``uri`` itself when there is none to find."""
    try:
        return str(locate(storage.fetch(uri, cache_dir)))
    except (ArtifactError, OSError):
        return uri
