// A TypeScript target importing a TypeScript module: every processed order is remembered in a
// module-level "recent orders" list that nothing trims. Runs under Bun, Deno and Node >= 22.6.
import { type LineItem, Order, PRICES } from "./lib/orders.ts";

const processedOrders: Order[] = [];
let nextId = 0;

function place(items: LineItem[]): Order {
  return new Order(nextId++, items);
}

export function leaky(): number {
  const order = place([{ sku: "apple", quantity: 2 }]);
  processedOrders.push(order); // kept forever: the leak
  return order.total(PRICES);
}

export function fixed(): number {
  // The fix: keep the number you need, not the order.
  return place([{ sku: "pear", quantity: 1 }]).total(PRICES);
}
