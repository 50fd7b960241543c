// A TypeScript target (Bun only).
interface Point { x: number; y: number }
const points: Point[] = [];
export function typedLeak(): void {
  points.push({ x: points.length, y: 0 });
}
export async function typedAsync(): Promise<number> {
  return points.length;
}
