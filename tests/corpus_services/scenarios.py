"""The service corpus's scenarios: app file and route of each, shared by the tests and ground_truth.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    app: str
    path: str
    library: str

    @property
    def fixed(self) -> bool:
        return self.name.endswith("::fixed")


def _pair(stem: str, app: str, route: str, library: str) -> list[Scenario]:
    return [Scenario(f"{stem}::{mode}", app, f"/{mode}{route}", library) for mode in ("leaky", "fixed")]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        *_pair("express-audit", "express-audit.mjs", "/orders/7", "express@5.3.0"),
        *_pair("fastify-shutdown-listener", "fastify-feed.mjs", "/quote", "fastify@5.12.8"),
        *_pair("koa-inflight-map", "koa-sessions.mjs", "/profile", "koa@3.3.0"),
    ]
}
