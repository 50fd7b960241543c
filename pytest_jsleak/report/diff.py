"""`jsleak diff` output: tabulate tables and retainer paths as text, or one JSON document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_jsleak.model import AllocationSite, RetainerPath
from pytest_jsleak.report.paths import format_path_inline, format_retainer_path
from pytest_jsleak.report.sites import sites_lines
from pytest_jsleak.units import format_bytes

SCHEMA = 1


def _signed_bytes(value: int) -> str:
    return ("+" if value > 0 else "") + format_bytes(value)


def _signed(value: int) -> str:
    return f"+{value}" if value > 0 else str(value)


def comparison_table(rows: Sequence[Any], top: int) -> str:
    """The 2-snapshot comparison (DevTools' Comparison view columns)."""
    from tabulate import tabulate  # here, not at the top: `--json` never pays for the import

    by_id = bool(rows) and rows[0].new is not None
    table = []
    for row in rows[:top]:
        cells = [row.class_name, row.count_before, row.count_after]
        if by_id:
            cells += [row.new, row.deleted]
        cells += [_signed(row.count_delta), _signed_bytes(row.size_delta)]
        table.append(cells)
    headers = ["class", "# before", "# after"]
    if by_id:
        headers += ["# new", "# deleted"]
    headers += ["# delta", "size delta"]
    return tabulate(table, headers=headers, disable_numparse=True,
                    colalign=("left",) + ("right",) * (len(headers) - 1))


def comparison_text(
    before: str, after: str, rows: Sequence[Any], top: int, notes: Sequence[str],
    sites: Mapping[str, Sequence[AllocationSite]] | None = None,
) -> str:
    lines = [f"comparison of {before} → {after}: {len(rows)} classes changed"]
    lines += list(notes)
    if rows:
        lines += ["", comparison_table(rows, top)]
        if len(rows) > top:
            lines.append(f"… and {len(rows) - top} more classes (--top)")
    for class_name, found in (sites or {}).items():
        lines += ["", f"where the new {class_name} objects were allocated:", *sites_lines(found)]
    return "\n".join(lines)


def _sites_json(found: Sequence[AllocationSite] | None) -> list[dict[str, Any]]:
    return [site.to_dict() for site in found or ()]


def comparison_json(
    before: str, after: str, rows: Sequence[Any], top: int, notes: Sequence[str],
    sites: Mapping[str, Sequence[AllocationSite]] | None = None,
) -> dict:
    sites = sites or {}
    return {
        "schema": SCHEMA,
        "mode": "compare",
        "snapshots": [before, after],
        "method": "ids" if rows and rows[0].new is not None else "counts",
        "notes": list(notes),
        "classes": [
            {
                "class_name": row.class_name,
                "count_before": row.count_before,
                "count_after": row.count_after,
                "new": row.new,
                "deleted": row.deleted,
                "count_delta": row.count_delta,
                "size_before": row.size_before,
                "size_after": row.size_after,
                "alloc_size": row.alloc_size,
                "freed_size": row.freed_size,
                "size_delta": row.size_delta,
                "allocation_sites": _sites_json(sites.get(row.class_name)),
            }
            for row in rows[:top]
        ],
        "total_classes": len(rows),
    }


def leaks_table(rows: Sequence[Any], top: int) -> str:
    from tabulate import tabulate
    table = [
        (
            row.class_name,
            row.survivors,
            format_bytes(row.survivor_bytes),
            format_bytes(row.retained_bytes),
            row.fresh,
            format_bytes(row.fresh_bytes),
        )
        for row in rows[:top]
    ]
    return tabulate(
        table,
        headers=("class", "new in A→B, alive in C", "self", "retained", "new in B→C", "self "),
        colalign=("left", "right", "right", "right", "right", "right"),
        disable_numparse=True,
    )


def leaks_text(
    snapshots: Sequence[str],
    rows: Sequence[Any],
    top: int,
    paths: Sequence[tuple[str, int | None, RetainerPath | None]],
    notes: Sequence[str],
    sites: Mapping[str, Sequence[AllocationSite]] | None = None,
    grown: Sequence[tuple[Any, RetainerPath | None]] = (),
) -> str:
    sites = sites or {}
    survivors = sum(row.survivors for row in rows)
    a, b, c = snapshots
    lines = [
        f"leak candidates: {survivors} objects allocated between {a} and {b} are still alive in {c}"
        f" ({sum(1 for row in rows if row.survivors)} classes)"
    ]
    lines += list(notes)
    if rows:
        lines += ["", leaks_table(rows, top)]
        if len(rows) > top:
            lines.append(f"… and {len(rows) - top} more classes (--top)")
    for class_name, node_id, path in paths:
        lines.append("")
        if path is None:
            lines.append(f"{class_name}: no path from the GC roots (held only by weak references)")
            lines += sites_lines(sites.get(class_name, ()))
            continue
        lines.append(f"{class_name} @{node_id} is retained by:  {format_path_inline(path)}")
        lines += sites_lines(sites.get(class_name, ()))
        lines.append(format_retainer_path(path))
    if grown:
        lines += ["", f"grew in place (alive in {a}, {b} and {c}, retained size up in both intervals):"]
    for obj, path in grown:
        sizes = " → ".join(format_bytes(size) for size in obj.sizes)
        where = format_path_inline(path) if path else "(no path from the GC roots)"
        lines.append(f"  {obj.class_name} @{obj.node_id}: {sizes}  retained by:  {where}")
    return "\n".join(lines)


def leaks_json(
    snapshots: Sequence[str],
    rows: Sequence[Any],
    top: int,
    paths: Sequence[tuple[str, int | None, RetainerPath | None]],
    notes: Sequence[str],
    method: str,
    sites: Mapping[str, Sequence[AllocationSite]] | None = None,
    grown: Sequence[tuple[Any, RetainerPath | None]] = (),
) -> dict:
    sites = sites or {}
    path_of = {name: (node_id, path) for name, node_id, path in paths}
    classes = []
    for row in rows[:top]:
        node_id, path = path_of.get(row.class_name, (None, None))
        classes.append(
            {
                "class_name": row.class_name,
                "survivors": row.survivors,
                "survivor_bytes": row.survivor_bytes,
                "retained_bytes": row.retained_bytes,
                "fresh": row.fresh,
                "fresh_bytes": row.fresh_bytes,
                "example_node_id": node_id,
                "path": path.to_dict() if path else None,
                "path_text": format_path_inline(path) if path else None,
                "allocation_sites": _sites_json(sites.get(row.class_name)),
            }
        )
    return {
        "schema": SCHEMA,
        "mode": "leaks",
        "snapshots": list(snapshots),
        "method": method,
        "notes": list(notes),
        "survivors": sum(row.survivors for row in rows),
        "classes": classes,
        "total_classes": len(rows),
        "grown_in_place": [
            {
                "class_name": obj.class_name,
                "node_id": obj.node_id,
                "sizes": list(obj.sizes),
                "path": path.to_dict() if path else None,
                "path_text": format_path_inline(path) if path else None,
            }
            for obj, path in grown
        ],
    }


__all__ = ["comparison_json", "comparison_text", "leaks_json", "leaks_text"]
