"""skops files crafted as an attacker writes them: the schema by hand, naming any type and
the node that would build it."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any


def _node(value: object) -> dict[str, Any]:
    """The schema skops itself writes for ``value``, to build a crafted file from."""
    import skops.io as sio

    schema = json.loads(zipfile.ZipFile(io.BytesIO(sio.dumps(value))).read("schema.json"))
    return {k: v for k, v in schema.items() if k not in ("protocol", "_skops_version")}


def crafted(path: Path, qualified: str, loader: str, sentinel: Path) -> Path:
    """A skops file whose top node names ``qualified`` and would build it with ``loader``;
    run, ``exec``/``eval``/``system``/``open``-like callables would create ``sentinel``."""
    module, _, name = qualified.rpartition(".")
    code = f"open({str(sentinel)!r}, 'w').write('ran')"
    node: dict[str, Any] = {"__loader__": loader, "content": {}}
    if loader == "ConstructorFromReduceNode":  # calls it with the arguments
        node["content"] = _node((code,))
    elif loader == "ObjectNode":  # builds it bare, then sets its state
        node["content"] = _node({"payload": code})
    elif loader == "DictNode":  # calls it with no argument, then fills it
        node = _node({"payload": code})
    node.update({"__class__": name, "__module__": module, "__id__": 1, "protocol": 2,
                 "_skops_version": "0.16.0"})  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(node))
    path.write_bytes(buffer.getvalue())
    return path
