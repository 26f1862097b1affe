"""A skops file never runs code at load: a file that names any callable of the modules
that hold ways to run code (``builtins``, ``operator``, ``os``, ...) is refused
``UntrustedTypes`` before anything in it is built, whatever node builds it.

Each file is crafted as an attacker would write it (the schema by hand), with arguments
that would leave a file behind if the callable ran."""

from __future__ import annotations

import builtins
import codecs
import functools
import importlib
import io
import operator
import os
import pickle
import runpy
import shutil
import subprocess
import sys
import types
import warnings
from pathlib import Path
from types import ModuleType

import pytest

from modelops_runtime.artifacts import resolve
from modelops_runtime.errors import ArtifactError
from modelops_runtime.models.loader import load_object
from modelops_runtime.settings import Settings
from modelops_runtime.skops_trust import DEFAULT_SKOPS_TRUSTED_TYPES, refused_types
from tests.crafted_skops import crafted

MODULES: list[ModuleType] = [
    builtins, operator, functools, os, subprocess, importlib, sys, shutil, io, pickle,
    types, runpy, codecs,
]  # fmt: skip
# Types skops itself trusts, by design plain data: building one runs no code of the file's.
SKOPS_SAFE = {"builtins.int", "builtins.float", "builtins.str", "builtins.bool",
              "builtins.list", "builtins.set", "builtins.map", "builtins.tuple",
              "builtins.dict"}  # fmt: skip
LOADERS = ["ConstructorFromReduceNode", "ObjectNode", "FunctionNode", "TypeNode", "DictNode"]


def callables() -> list[str]:
    found = set()
    for module in MODULES:
        for name in dir(module):
            if not name.startswith("__") and callable(getattr(module, name, None)):
                found.add(f"{module.__name__}.{name}")
    return sorted(found)


@pytest.mark.parametrize("loader", LOADERS)
def test_no_callable_of_a_module_that_runs_code_is_built_from_a_file(
    tmp_path: Path, loader: str
) -> None:
    trusted = Settings.from_env({}).skops_trusted
    sentinel = tmp_path / "ran"
    tried = 0
    for qualified in callables():
        if qualified in SKOPS_SAFE:
            continue
        path = crafted(tmp_path / "model.skops", qualified, loader, sentinel)
        with pytest.raises(ArtifactError) as refused:
            load_object(resolve(path, "skops"), trusted)
        assert refused.value.reason == "UntrustedTypes", (qualified, refused.value)
        assert qualified in str(refused.value)
        assert not sentinel.exists(), f"{qualified} ran while loading"
        tried += 1
    assert tried > 500  # every module above was walked


def test_the_attack_itself_would_run_without_the_policy(tmp_path: Path) -> None:
    """The control: the crafted exec file runs its code when skops is told to trust it,
    so the refusals above are the policy's doing."""
    import skops.io as sio

    sentinel = tmp_path / "ran"
    path = crafted(tmp_path / "evil.skops", "builtins.exec", "ConstructorFromReduceNode",
                   sentinel)  # fmt: skip
    sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert sentinel.read_text() == "ran"


def test_trust_is_by_exact_name_never_by_prefix() -> None:
    assert refused_types(["builtins.exec"], ["builtins."]) == ["builtins.exec"]
    assert refused_types(["mypkg.Scaler", "mypkg.evil"], ["mypkg.Scaler"]) == ["mypkg.evil"]
    assert not [t for t in DEFAULT_SKOPS_TRUSTED_TYPES if t.endswith((".", "*"))]


def test_the_variable_adds_exact_names_to_the_defaults() -> None:
    settings = Settings.from_env({"MODELOPS_SKOPS_TRUSTED": "mypkg.Scaler, mypkg.Encoder"})
    assert settings.skops_trusted == (*DEFAULT_SKOPS_TRUSTED_TYPES, "mypkg.Scaler",
                                      "mypkg.Encoder")  # fmt: skip


@pytest.mark.parametrize("saved", ["xgb-classifier", "xgb-regressor", "mlp", "tree"])
def test_the_models_we_serve_load_under_the_defaults(tmp_path: Path, saved: str) -> None:
    import numpy as np
    import skops.io as sio
    from sklearn.neural_network import MLPClassifier
    from sklearn.tree import DecisionTreeClassifier
    from xgboost import XGBClassifier, XGBRegressor

    X = np.random.default_rng(0).random((80, 3))
    y = (X[:, 0] > 0.5).astype(int)
    model = {"xgb-classifier": XGBClassifier(n_estimators=3), "xgb-regressor": XGBRegressor(
        n_estimators=3), "mlp": MLPClassifier(max_iter=5), "tree": DecisionTreeClassifier()
    }[saved]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the MLP's five iterations do not converge
        model.fit(X, y)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    loaded = load_object(resolve(path, "skops"), Settings.from_env({}).skops_trusted)
    assert (loaded.predict(X) == model.predict(X)).all()
