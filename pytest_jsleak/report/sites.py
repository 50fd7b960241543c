"""Allocation stacks as text: `allocated at buildAuditEntry (src/audit.mjs:1:32) ← handleLogin (…)  ×200`."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_jsleak.model import AllocationSite, HandleSite, StackFrame

MAX_USER_FRAMES = 4
MAX_OTHER_FRAMES = 2


def frame_text(frame: StackFrame) -> str:
    where = frame.location()
    return f"{frame.function} ({where})" if where else frame.function


def site_text(site: AllocationSite | HandleSite, verb: str = "allocated at") -> str:
    """One stack, your code first: its innermost user frame and their callers, then where inside a
    library or the runtime the object was made (innermost first), then the count."""
    frames = site.frames
    if not frames:
        # A socket the runtime accepted for a server of this process: no JavaScript made it.
        return f"{verb} no JavaScript frame (made by the runtime itself)  ×{site.count}"
    users = [frame for frame in frames if frame.kind == "user"]
    first_user = next((i for i, frame in enumerate(frames) if frame.kind == "user"), len(frames))
    # The frames between the allocation and your code: the library or runtime call that allocated.
    inner = list(frames[:first_user])
    parts = []
    if users:
        shown = users[:MAX_USER_FRAMES]
        parts.append(f"{verb} " + " ← ".join(frame_text(frame) for frame in shown))
        if len(users) > len(shown):
            parts[-1] += " ← …"
        if inner:
            parts.append(_inside(inner))
    else:
        shown = list(frames[:MAX_USER_FRAMES])
        parts.append(f"{verb} " + " ← ".join(frame_text(frame) for frame in shown))
    return ", ".join(parts) + f"  ×{site.count}"


def _inside(inner: Sequence[StackFrame]) -> str:
    """`in axios: use (node_modules/axios/…:18:6)`: the call into a library (or the runtime) that allocated."""
    packages = [frame.package for frame in inner if frame.package]
    # Outermost first is the library function your code called; the innermost made the object.
    entry = inner[-1]
    innermost = inner[0]
    label = f"in {packages[-1]}" if packages else "in the runtime"
    if entry is innermost:
        return f"{label}: {frame_text(entry)}"
    middle = " ← …" if len(inner) > MAX_OTHER_FRAMES else ""
    return f"{label}: {frame_text(innermost)}{middle} ← {frame_text(entry)}"


def sites_lines(
    sites: Sequence[AllocationSite | HandleSite], indent: str = "  ", verb: str = "allocated at"
) -> list[str]:
    return [indent + site_text(site, verb) for site in sites]


__all__ = ["frame_text", "site_text", "sites_lines"]
