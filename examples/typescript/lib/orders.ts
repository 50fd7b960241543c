// An application module in TypeScript, imported by order-queue.leak.ts with its `.ts` extension
// written out: Node's type stripping resolves only that form (Bun and Deno accept it too).
// Erasable syntax only (interfaces, annotations, `type` imports): no enums, namespaces or
// parameter properties, which Node's type stripping refuses.

export interface LineItem {
  sku: string;
  quantity: number;
}

export class Order {
  id: number;
  items: LineItem[];
  placedAt: number;

  constructor(id: number, items: LineItem[]) {
    this.id = id;
    this.items = items;
    this.placedAt = Date.now();
  }

  total(prices: ReadonlyMap<string, number>): number {
    return this.items.reduce((sum, item) => sum + (prices.get(item.sku) ?? 0) * item.quantity, 0);
  }
}

export const PRICES: ReadonlyMap<string, number> = new Map([
  ["apple", 3],
  ["pear", 4],
]);
