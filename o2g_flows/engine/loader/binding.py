"""Binding actions: each item to its action, its arguments checked and compiled."""

from __future__ import annotations

import weakref
from typing import Any

from ..._yaml import (
    Location,
    YMap,
    YSeq,
)
from ..actions import FOR_EACH, ActionSpec, check_call, check_type, describe_type
from ..expressions import (
    CONTEXT_NAMES,
    GUARD_NAMES,
    Dynamic,
    ExpressionError,
    compile_text,
)
from ..functions import FunctionTable
from ..model import (
    Retry,
    Step,
)
from .common import (
    _VAR,
    MAX_ATTEMPTS,
    PLUGIN_HINT,
    RETRY_KEYS,
    STEP_KEYS,
    Builder,
    did_you_mean,
    kind_of,
)


class ActionBinding(Builder):
    """Action lists: each step, its options and arguments."""

    def steps(self, node: Any, key: Any) -> list[Step]:
        value = node[key]
        if isinstance(value, YMap | str):
            return [step for step in [self._step(node, key)] if step]
        if not isinstance(value, YSeq):
            self.error(self.at(node, key), "expected a list of actions")
            return []
        return [step for step in (self._step(value, i) for i in range(len(value))) if step]

    def _step(self, parent: Any, index: Any) -> Step | None:
        item = parent[index]
        where = self.at(parent, index)
        if isinstance(item, str):
            spec = self._action(item, where)
            if spec is None:
                return None
            return self._args(
                spec,
                YMap(),
                None,
                where,
                Step(spec, {}, where, on_error=self.default_on_error),
            )
        if not isinstance(item, YMap):
            self.error(where, f"an action is a mapping like answer: {{...}}, not {kind_of(item)}")
            return None
        names = [name for name in item if name not in STEP_KEYS]
        if len(names) != 1:
            message = (
                "an action item names one action"
                if names
                else "no action in this item (only guard/on_error/as)"
            )
            self.error(where, message + (f": {', '.join(map(str, names))}" if names else ""))
            return None
        name = names[0]
        spec = self._action(name, self.at_key(item, name))
        if spec is None:
            return None
        step = Step(spec, {}, self.at_key(item, name), on_error=self.default_on_error)
        if spec.name == FOR_EACH:
            step = self._for_each(item, name, step)
            if step is None:
                return None
        if "guard" in item:
            step.guard = self.expression(item, "guard", GUARD_NAMES)
        if "on_error" in item:
            self._on_error(item, step)
        if "retry" in item:
            step.retry = self._retry(item)
        if "as" in item:
            var = item["as"]
            if isinstance(var, str) and _VAR.match(var):
                step.result_var = var
                self.assigned.add(var)
            else:
                self.error(self.at(item, "as"), "as: must be a variable name")
        if spec.name == FOR_EACH:
            return step
        return self._args(spec, item, name, step.location, step)

    def _retry(self, item: YMap) -> Retry | None:
        """``retry: {attempts: N, delay: 10s, on: [text...]}`` (``retry: N``: N attempts)."""
        node = item["retry"]
        if isinstance(node, int) and not isinstance(node, bool):
            node = YMap()
            node["attempts"] = item["retry"]
        if not isinstance(node, YMap):
            self.error(self.at(item, "retry"), "retry is {attempts: N, delay: 10s, on: [...]}")
            return None
        self.keys(node, RETRY_KEYS, "retry")
        attempts = node.get("attempts", 3)
        if not isinstance(attempts, int) or isinstance(attempts, bool):
            attempts = 0
        if not 2 <= attempts <= MAX_ATTEMPTS:
            where = self.at(node, "attempts") if "attempts" in node else self.at(item, "retry")
            self.error(where, f"retry attempts is a whole number from 2 to {MAX_ATTEMPTS}")
            return None
        delay = self._duration(node, "delay") if "delay" in node else 5.0
        on = node.get("on", [])
        on = [on] if isinstance(on, str) else on
        if not isinstance(on, list) or not all(isinstance(text, str) for text in on):
            self.error(self.at(node, "on"), "retry on: is error text or a list of them")
            return None
        return None if delay is None else Retry(attempts, delay, tuple(on))

    def _for_each(self, item: YMap, name: str, step: Step) -> Step | None:
        """``for_each: {items: LIST, as: NAME, do: [actions]}``: ``do`` for each item."""
        node = self.mapping(item, name, "for_each")
        if node is None:
            return None
        self.keys(node, ("items", "as", "do"), "for_each")
        if "items" not in node or "do" not in node:
            self.error(step.location, "for_each needs items: (a list) and do: (the actions)")
            return None
        alias = node.get("as", "item")
        if not isinstance(alias, str) or not _VAR.match(alias) or alias in CONTEXT_NAMES:
            taken = ", ".join(sorted(CONTEXT_NAMES))
            self.error(
                self.at(node, "as"),
                f"for_each as: names the item (an identifier other than {taken})",
            )
            return None
        items = self.value(node, "items")
        outer = self.item_names
        self.item_names = outer | {alias}
        try:
            steps = self.steps(node, "do")
        finally:
            self.item_names = outer
        for inner in steps:
            if inner.on_error == "goto":
                self.error(inner.location, "on_error: goto is not allowed inside for_each")
        step.args = {"items": items, "as": alias, "do": steps}
        return step

    def _action(self, name: Any, where: Location) -> ActionSpec | None:
        spec = self.registry.actions.get(name) if isinstance(name, str) else None
        if spec is None:
            hint = did_you_mean(name, sorted(self.registry.actions)) or PLUGIN_HINT
            self.error(where, f"unknown action {name!r}{hint}")
        return spec

    def _on_error(self, item: YMap, step: Step) -> None:
        value = item["on_error"]
        if value in ("continue", "stop"):
            step.on_error = value
            return
        target = None
        if isinstance(value, str) and value.startswith("goto "):
            target = value[5:].strip()
        elif isinstance(value, YMap) and list(value) == ["goto"]:
            target = value["goto"] if isinstance(value["goto"], str) else None
        if not target:
            self.error(self.at(item, "on_error"), "on_error must be continue, stop or goto STATE")
            return
        step.on_error = "goto"
        step.error_goto = target
        self.gotos.append((target, self.at(item, "on_error")))

    def _args(
        self, spec: ActionSpec, item: YMap, name: Any, where: Location, step: Step
    ) -> Step | None:
        raw = item[name] if name is not None else None
        container: Any = item
        if raw is None:
            args_node: YMap = YMap()
        elif isinstance(raw, YMap):
            args_node = raw
        elif spec.shorthand is not None:
            args_node = YMap()
            args_node[spec.shorthand] = raw
            step.args[spec.shorthand] = self.value(item, name)
            container = None
        else:
            self.error(
                self.at(item, name), f"{spec.name} takes a mapping of arguments, not {kind_of(raw)}"
            )
            return None
        errors_before = len(self.errors)
        if spec.free_form:
            for var in args_node:
                if not isinstance(var, str) or not _VAR.match(var):
                    self.error(
                        self.at_key(args_node, var), f"variable name {var!r} is not an identifier"
                    )
                else:
                    step.args[var] = self.value(args_node, var)
                    self.assigned.add(var)
            return step if len(self.errors) == errors_before else None
        for arg in args_node:
            param = spec.param(arg)
            if param is None:
                names = [p.name for p in spec.params]
                hint = did_you_mean(arg, names)
                self.error(
                    self.at_key(args_node, arg) if container is not None else where,
                    f"{spec.name} has no argument {arg!r}{hint}; it takes "
                    f"{', '.join(names) or 'none'}",
                )
                continue
            if container is not None:
                step.args[arg] = self.value(args_node, arg)
            value = step.args[arg]
            if not isinstance(value, Dynamic):
                ok, value = check_type(param, value)
                if not ok:
                    self.error(
                        self.at(args_node, arg) if container is not None else where,
                        f"{spec.name}: {arg} must be {describe_type(param)}",
                    )
                step.args[arg] = value
        for param in spec.params:
            if param.name in step.args:
                continue
            if param.default is not None:
                try:
                    step.args[param.name] = default_of(param.default, self.table)
                except ExpressionError as exc:  # the action's (plugin's) fault, not the flow's
                    self.error(
                        where,
                        f"{spec.name}: the default of {param.name} ({param.default!r}) is not a "
                        f"valid template: {exc}",
                    )
            elif param.required:
                about = f" ({param.doc})" if param.doc else ""
                self.error(where, f"{spec.name} is missing its {param.name}: argument{about}")
        step.args = {p.name: step.args[p.name] for p in spec.params if p.name in step.args}
        if spec.name == "emit" and isinstance(step.args.get("event"), str):
            self.emitted.add(step.args["event"])
        if spec.name == "call" and isinstance(step.args.get("method"), str):
            given = step.args.get("args")
            items = given.items if isinstance(given, Dynamic) and hasattr(given, "items") else given
            names = list(items) if isinstance(items, dict) else [] if given is None else None
            for problem in check_call(step.args["method"], names):
                self.error(
                    self.at(args_node, "method") if container is not None else where, problem
                )
        return step if len(self.errors) == errors_before else None

    # -- tests --------------------------------------------------------------------------------


#: Compiled default templates, per function table (an id could be reused by a later table).
_DEFAULTS: weakref.WeakKeyDictionary[FunctionTable, dict[str, Any]] = weakref.WeakKeyDictionary()


def default_of(value: Any, table: FunctionTable) -> Any:
    """A parameter's default, its template compiled once per function table."""
    if not isinstance(value, str):
        return value
    compiled = _DEFAULTS.setdefault(table, {})
    if value not in compiled:
        compiled[value] = compile_text(value, table)
    return compiled[value]
