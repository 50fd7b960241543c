"""A retainer path as text: one line per edge, with edge names and closure locations."""

from __future__ import annotations

import re

from pytest_jsleak.model import STRING_NODE_TYPES, PathStep, RetainerPath, redacted_length

MAX_NAME = 60


_TEMPLATE_ARGS = re.compile(r"<[^<>]*>")


def short_native(text: str) -> str:
    """Blink's C++ names without their template arguments and source locations:
    `blink::HeapHashTableBacking<blink::HashTable<…>>` → `blink::HeapHashTableBacking<…>`."""
    if len(text) <= MAX_NAME or "::" not in text:
        return text
    short = text.split("@", 1)[0] if "@../" in text else text  # `Ctor(args)@../../file.cc:12`
    while True:
        inner = _TEMPLATE_ARGS.sub("\x00", short)
        if inner == short:
            break
        short = inner
    short = short.replace("\x00", "<…>")
    short = re.sub(r"\([^()]*\)", "(…)", short)
    return short if len(short) <= MAX_NAME else short[: MAX_NAME - 1] + "…"


def edge_label(step: PathStep) -> str:
    """How the edge into `step` reads: `.prop`, `[17]`, `requestLog (variable)`, `(internal) map`."""
    name = short_native(step.edge_name) if step.edge_name is not None else ""
    kind = step.edge_type
    if kind == "property":
        return f".{name}"
    if kind == "element":
        return f"[{name}]"
    if kind == "context":
        return f"{name} (variable)"
    if kind == "listener":
        # An event listener of a DOM event target (heap/dom.py collapses Blink's chain to it).
        return f"{name} listener" if name else "event listener"
    if kind == "import":
        return f"{name} (import)"
    if kind is None:
        return ""
    return f"({kind}) {name}".rstrip()


def node_label(step: PathStep) -> str:
    """The node as DevTools lists it: class key, or the text of a string, or a root's name."""
    if step.node_type == "synthetic":
        return step.node_name or "(root)"
    if step.node_type in STRING_NODE_TYPES:
        length = redacted_length(step.node_name)
        if length is not None:  # the `redact` option or `jsleak redact` removed the text
            return f'"…" (string, {length} char{"" if length == 1 else "s"})'
        text = step.node_name if len(step.node_name) <= MAX_NAME else step.node_name[: MAX_NAME - 1] + "…"
        return f'"{text}"'
    if step.node_type == "native":
        return short_native(step.class_name)
    return step.class_name


def _steps_shown(path: RetainerPath) -> tuple[PathStep, ...]:
    steps = path.steps
    # V8's node 0 is a nameless synthetic root: start the path at its child, "(GC roots)" or a
    # global object reached by a root shortcut.
    if len(steps) > 1 and steps[0].node_type == "synthetic" and not steps[0].node_name:
        return steps[1:]
    return steps


def format_retainer_path(path: RetainerPath, indent: str = "  ") -> str:
    """Root first, one line per edge::

        (GC roots) @3
          [7] → (Stack roots) @15
          requestLog (variable) → Array @8419 (16 B)
          [17] → RequestRecord @20871 (48 B)
    """
    steps = _steps_shown(path)
    if not steps:
        return f"{indent}(empty path)"
    lines = [f"{indent}{node_label(steps[0])} @{steps[0].node_id}"]
    for step in steps[1:]:
        line = f"{indent}  {edge_label(step)} → {node_label(step)} @{step.node_id} ({step.self_size} B)"
        if step.location:
            line += f" at {step.location}"
        lines.append(line)
    return "\n".join(lines)


def format_path_inline(path: RetainerPath) -> str:
    """One line: `(GC roots) → … → requestLog → Array → [17] → RequestRecord`."""
    steps = _steps_shown(path)
    if not steps:
        return ""
    parts = [node_label(steps[0])]
    for step in steps[1:]:
        if step.edge_type in ("property", "context", "shortcut", "import") and step.edge_name:
            parts.append(step.edge_name)
        elif step.edge_type == "element" and step.edge_name is not None:
            parts.append(f"[{step.edge_name}]")
        elif step.edge_type == "listener":
            parts.append(edge_label(step))
        parts.append(node_label(step))
    return " → ".join(parts)


__all__ = ["edge_label", "format_path_inline", "format_retainer_path", "node_label"]
