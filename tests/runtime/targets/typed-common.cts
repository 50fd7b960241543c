// A CommonJS TypeScript target (Bun, Deno, Node >= 22.6).
interface Counter {
  calls: number;
}
const counter: Counter = { calls: 0 };

exports.count = function count(): number {
  return ++counter.calls;
};
