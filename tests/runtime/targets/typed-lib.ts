// Imported by typed-main.mts: a TypeScript module importing another one, extension included
// (Node's type stripping resolves `.ts` only when it is written out; Bun and Deno accept it too).
export interface Point {
  x: number;
  y: number;
}

export function makePoint(x: number): Point {
  return { x, y: x * 2 };
}
