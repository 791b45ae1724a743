"""Bounded cost before validation: a structural pass over a parsed JSON body, driven by its schema.

marshmallow loads every item of a ``List`` before the list's ``validate.Length`` runs, and names
each unknown key by the key itself. So ``"optimizers": [{}, {}, …]`` (a million empty objects, a
3 MB body) cost a million nested loads and a million errors before "at most 16" was said, and a
1 MB unknown key came back twice in the error. This pass runs first (webargs' ``pre_load`` hook,
wired in ``service.jsonio``) and refuses, in time bounded by the schema's declared limits rather
than by the body, anything bigger than the schema allows (``check_raw`` runs before parsing and
refuses a body with more objects or values than any request holds, at C speed):

* a ``List`` longer than its ``validate.Length`` maximum (else ``max_list_items``), before any item is read;
* a ``String`` longer than its ``validate.Length`` maximum (else ``max_string_chars``);
* a ``Dict`` with more than ``max_map_entries`` entries. Arrays loaded by custom fields (``Raw``:
  number arrays, matrices) check their own lengths first, naming their engine limit; here they are
  only bounded by the body's ``max_body_values``;
* unknown keys in bulk (more than ``named`` of them, or one longer than ``key_chars``): the first few
  are named, cut to ``key_chars`` characters, and the rest counted;
* a JSON value of the wrong type at a scalar leaf. marshmallow's non-strict fields coerce: an
  ``Integer`` takes ``7.9`` as 7, ``"7"`` as 7 and ``-0.5`` as 0, a ``Float`` takes ``"1.5"``, a
  ``Boolean`` takes ``"yes"`` and ``1``. Here every scalar must already be its JSON type, so every
  field is as strict as the OpenAPI document says, whatever the schema module declared.

Only shape and JSON types are checked: ranges, choices and cross-field rules stay marshmallow's
and the engine's, on input now known to be small. Errors use marshmallow's layout (nested dicts,
list indices as keys), at most ``max_errors`` of them; the walk stops there. Any schema gets
this, present or future, because it reads only what the schema declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate


@dataclass(frozen=True)
class Budget:
    max_body_objects: int = 10_000  # JSON objects in one body (the largest request holds a few hundred)
    max_body_values: int = 400_000  # values in one body, counted by commas (2 x max_loss_elements numbers + room)
    max_list_items: int = 100_000  # a List field with no declared maximum (the largest any limit allows)
    max_string_chars: int = 1_000  # a string with no declared maximum (names are a few dozen characters)
    max_map_entries: int = 64  # entries of a free-form map (surface params, activation_params, ...)
    key_chars: int = 40  # an unknown key is named by this many characters at most
    named: int = 5  # unknown keys named per object before they are only counted
    max_errors: int = 20  # errors reported per request; the walk stops there (same as service.errors)


def cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} chars)"


class _Errors:
    def __init__(self, budget: Budget):
        self.tree: dict = {}
        self.count = 0
        self.budget = budget

    @property
    def full(self) -> bool:
        return self.count >= self.budget.max_errors

    def add(self, path: tuple, message: str) -> None:
        if self.full:
            return
        node = self.tree
        for key in path[:-1]:
            nxt = node.setdefault(key, {})
            if not isinstance(nxt, dict):  # a message already sits here: keep the first
                return
            node = nxt
        node.setdefault(path[-1], []).append(message)
        self.count += 1


def check_raw(body: bytes, budget: Budget = Budget()) -> None:
    """Before parsing: refuse a body holding more objects or values than any request needs.

    Parsing itself is the cost to bound here: ``orjson.loads`` of a million empty objects takes
    ~0.2 s and holds the GIL (the event loop waits). Two byte counts (C speed, ~1 ms for 8 MB) see
    it first. Braces or commas inside strings count too; strings are short (``max_string_chars``).
    """
    objects = body.count(b"{")
    if objects > budget.max_body_objects:
        raise ValidationError({"_body": [f"{objects} JSON objects exceed limit max_body_objects="
                                         f"{budget.max_body_objects}"]})
    values = body.count(b",") + 1
    if values > budget.max_body_values:
        raise ValidationError({"_body": [f"about {values} JSON values exceed limit max_body_values="
                                         f"{budget.max_body_values}"]})


def check(schema: Schema, data: Any, budget: Budget = Budget()) -> None:
    """Raise ``ValidationError`` (marshmallow's message layout) if ``data`` is bigger or looser than ``schema``."""
    errors = _Errors(budget)
    _object(schema, data, (), errors)
    if errors.full:  # said first, so a renderer that keeps the first errors keeps this one
        errors.tree = {"_schema": [f"stopped after {budget.max_errors} errors (limit max_errors); fix these and "
                                   "send again"], **errors.tree}
    if errors.count:
        raise ValidationError(errors.tree)


def _max_length(field: fields.Field) -> tuple[int | None, list]:
    lengths = [v for v in field.validators if isinstance(v, validate.Length)]
    caps = [v.equal if v.equal is not None else v.max for v in lengths]
    caps = [c for c in caps if c is not None]
    return (min(caps) if caps else None), lengths


def _object(schema: Schema, data: Any, path: tuple, errors: _Errors) -> None:
    if not isinstance(data, dict):
        return  # marshmallow says "Invalid input type." at no cost
    b = errors.budget
    known = {f.data_key or name: f for name, f in schema.load_fields.items()}
    if schema.unknown == RAISE:
        unknown = [k for k in data if k not in known]
        if len(unknown) > b.named or any(len(k) > b.key_chars for k in unknown):
            for k in unknown[: b.named]:
                errors.add((*path, cut(k, b.key_chars)), "Unknown field.")
            if len(unknown) > b.named:
                errors.add((*path, "_schema"), f"{len(unknown)} unknown fields in all; accepted: "
                                               + cut(", ".join(known), 400))
    for key, field in known.items():
        if errors.full:
            return
        if key in data:
            _value(field, data[key], (*path, key), errors)


def _value(field: fields.Field, value: Any, path: tuple, errors: _Errors) -> None:
    b = errors.budget
    if value is None:
        return  # allow_none is marshmallow's to judge, cheaply
    if isinstance(field, fields.Nested):
        schema = field.schema
        if field.many:
            if _list_ok(field, value, path, errors):
                for i, item in enumerate(value):
                    _object(schema, item, (*path, i), errors)
        else:
            _object(schema, value, path, errors)
    elif isinstance(field, fields.List):
        if _list_ok(field, value, path, errors):
            for i, item in enumerate(value):
                if errors.full:
                    return
                if item is not None:
                    _value(field.inner, item, (*path, i), errors)
    elif isinstance(field, fields.Dict):
        if isinstance(value, dict):
            if len(value) > b.max_map_entries:
                errors.add(path, f"{len(value)} entries exceed limit max_map_entries={b.max_map_entries}")
                return
            for k, v in value.items():
                if len(k) > b.key_chars:
                    errors.add((*path, cut(k, b.key_chars)), f"keys are at most {b.key_chars} characters")
                elif field.value_field is not None and v is not None:
                    _value(field.value_field, v, (*path, k), errors)
                else:
                    _raw(field, v, (*path, k), errors)
    elif isinstance(field, fields.String):
        if not isinstance(value, str):
            errors.add(path, field.error_messages["invalid"])
            return
        cap, _ = _max_length(field)
        if cap is not None and len(value) > cap:
            errors.add(path, f"at most {cap} characters ({len(value)} given)")
        elif len(value) > b.max_string_chars:
            errors.add(path, f"{len(value)} characters exceed limit max_string_chars={b.max_string_chars}")
    elif isinstance(field, fields.Boolean):
        if not isinstance(value, bool):
            errors.add(path, "Not a valid boolean: use true or false.")
    elif isinstance(field, fields.Integer):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.add(path, field.error_messages["invalid"])
    elif isinstance(field, fields.Number):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.add(path, field.error_messages["invalid"])
    elif isinstance(field, fields.Raw):
        _raw(field, value, path, errors)


def _list_ok(field: fields.Field, value: Any, path: tuple, errors: _Errors) -> bool:
    """Check a list's length against the field's own Length validators (O(1)) and the global cap."""
    if not isinstance(value, list):
        return False  # marshmallow: "Not a valid list."
    cap, lengths = _max_length(field)
    if cap is not None and len(value) > cap:
        for v in lengths:
            try:
                v(value)  # the schema's own message (e.g. "... (limit max_race_runs)"); len() only
            except ValidationError as e:
                errors.add(path, e.messages[0] if isinstance(e.messages, list) else str(e.messages))
                return False
    if len(value) > errors.budget.max_list_items:
        errors.add(path, f"{len(value)} items exceed limit max_list_items={errors.budget.max_list_items}")
        return False
    return True


def _raw(field: fields.Field, value: Any, path: tuple, errors: _Errors) -> None:
    """A value a custom field loads (number arrays, matrices): its own checks name its limit first; here
    only a bound on its size, so that no array costs more than the body's value budget to walk."""
    if not isinstance(value, list):
        return
    cap = errors.budget.max_body_values
    total = len(value)
    for row in value:
        if isinstance(row, list):
            total += len(row)
    if total > cap:
        errors.add(path, f"{total} numbers exceed limit max_body_values={cap}")
