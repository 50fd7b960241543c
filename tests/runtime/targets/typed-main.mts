// An ES-module TypeScript target that imports a .ts module (Bun, Deno, Node >= 22.6).
import { makePoint, type Point } from "./typed-lib.ts";

const kept: Point[] = [];

export function keepPoint(): number {
  kept.push(makePoint(kept.length));
  return kept.length;
}
