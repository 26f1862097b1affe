"""Typed API definitions → OpenAPI v3 schemas and typed objects.

A spec is written once, as a frozen dataclass whose fields carry their documentation and
validation through ``prop(...)``. ``openapi(cls)`` turns it into the structural schema a
CRD needs; ``parse(cls, data)`` turns an object's ``spec`` (already validated by the API
server) back into the dataclass, with defaults filled in.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

T = TypeVar("T")

_SCALARS: dict[type, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}

QUANTITY: dict[str, Any] = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "x-kubernetes-int-or-string": True,
    "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$",
}


def prop(
    doc: str,
    *,
    default: Any = dataclasses.MISSING,
    factory: Any = dataclasses.MISSING,
    rules: list[tuple[str, str]] | None = None,
    schema: dict[str, Any] | None = None,
    map_keys: list[str] | None = None,
    **openapi: object,
) -> Any:
    """A documented field. ``openapi`` adds keywords (minimum, pattern...); ``rules`` adds
    CEL validations as (rule, message); ``schema`` replaces the generated schema;
    ``map_keys`` makes a list a map keyed by those fields (merged item by item)."""
    if map_keys:
        openapi |= {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": map_keys}
    metadata = {"doc": doc, "openapi": openapi, "rules": rules or [], "schema": schema}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def openapi(cls: type, doc: str = "", rules: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The OpenAPI v3 schema of a dataclass, its fields documented and validated; CEL rules
    on the whole object come from ``rules`` or the class's ``RULES``."""
    rules = rules if rules is not None else getattr(cls, "RULES", None)
    hints = get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for field in dataclasses.fields(cls):
        meta = field.metadata
        schema = dict(meta.get("schema") or _schema_of(hints[field.name]))
        schema.update(meta.get("openapi") or {})
        if meta.get("doc"):
            schema["description"] = meta["doc"]
        if field.default is not dataclasses.MISSING and field.default is not None:
            schema.setdefault("default", field.default)
        if meta.get("rules"):
            schema["x-kubernetes-validations"] = _rules(meta["rules"])
        properties[camel(field.name)] = schema
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            required.append(camel(field.name))
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    if doc or cls.__doc__:
        result["description"] = doc or " ".join((cls.__doc__ or "").split())
    if rules:
        result["x-kubernetes-validations"] = _rules(rules)
    return result


def _rules(rules: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"rule": rule, "message": message} for rule, message in rules]


def _schema_of(hint: Any) -> dict[str, Any]:
    hint = _unoptional(hint)
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    origin = get_origin(hint)
    if origin is Literal:
        values = list(get_args(hint))
        return {"type": _SCALARS[type(values[0])], "enum": values}
    if origin in (list, tuple):
        return {"type": "array", "items": _schema_of(get_args(hint)[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_of(get_args(hint)[1])}
    if dataclasses.is_dataclass(hint):
        return openapi(typing.cast(type, hint))
    raise TypeError(f"no OpenAPI schema for {hint!r}")


def _unoptional(hint: Any) -> Any:
    if get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def parse(cls: type[T], data: dict[str, Any] | None) -> T:
    """The dataclass for a (validated) object body; missing fields take their defaults."""
    data = data or {}
    hints = _hints(typing.cast(type, cls))
    values = {
        field.name: _value(hints[field.name], data[camel(field.name)])
        for field in dataclasses.fields(cls)  # type: ignore[arg-type]
        if data.get(camel(field.name)) is not None
    }
    return cls(**values)


def _value(hint: Any, raw: Any) -> Any:
    hint = _unoptional(hint)
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return parse(typing.cast(type, hint), raw)
    if origin in (list, tuple):
        return tuple(_value(get_args(hint)[0], item) for item in raw)
    if origin is dict:
        return {str(k): _value(get_args(hint)[1], v) for k, v in raw.items()}
    if hint is float and isinstance(raw, int):
        return float(raw)
    return raw
