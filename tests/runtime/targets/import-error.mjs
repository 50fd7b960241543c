import { nothing } from "./does-not-exist.mjs";
export function x() { return nothing; }
