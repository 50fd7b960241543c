"""Fold repeated runs of a retainer path: a chain of 200 leaked objects prints as one block × 200."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pytest_jsleak.model import PathStep

MAX_BLOCK = 8
MIN_REPEATS = 3


@dataclass(frozen=True, slots=True)
class Repeat:
    """`steps` occur `times` times in a row on the path."""

    steps: tuple[PathStep, ...]
    times: int


def step_key(step: PathStep) -> tuple[str | None, str | None, str]:
    # Element indices and ids differ from one link of a chain to the next; the shape does not.
    name = "[]" if step.edge_type in ("element", "hidden") else step.edge_name
    return step.edge_type, name, step.class_name


def fold_repeats(steps: Sequence[PathStep]) -> list[PathStep | Repeat]:
    """Greedy, left to right: at each step, the block (≤ 8 steps) repeated most often replaces its run."""
    keys = [step_key(step) for step in steps]
    folded: list[PathStep | Repeat] = []
    i = 0
    while i < len(steps):
        best_len, best_times = 0, 1
        for length in range(1, MAX_BLOCK + 1):
            block = keys[i:i + length]
            if len(block) < length:
                break
            times = 1
            while keys[i + times * length:i + (times + 1) * length] == block:
                times += 1
            if times >= MIN_REPEATS and length * times > best_len * best_times:
                best_len, best_times = length, times
        if best_len:
            folded.append(Repeat(tuple(steps[i:i + best_len]), best_times))
            i += best_len * best_times
        else:
            folded.append(steps[i])
            i += 1
    return folded


__all__ = ["Repeat", "fold_repeats", "step_key"]
