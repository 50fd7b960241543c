// reselect@5.3.0: createSelector's default memoizer (weakMapMemoize) holds results keyed by
// primitive arguments strongly, for ever (reselect warns about it past 1000 values in development).
// A selector called with ever-new ids keeps one cache node and one result per id. fixed passes
// maxSize, which bounds both caches.
import { createSelector } from "reselect";

const state = {
  orders: Array.from({ length: 40 }, (_, i) => ({ id: i, customer: `c${i % 7}`, total: i * 3 })),
};
let orderId = 0;

const selectOrders = (s) => s.orders;
const selectId = (_s, id) => id;

const selectOrderView = createSelector([selectOrders, selectId], (orders, id) => {
  const order = orders[id % orders.length];
  return { id, label: `${order.customer} #${id}`, total: order.total };
});

const selectOrderViewBounded = createSelector(
  [selectOrders, selectId],
  (orders, id) => {
    const order = orders[id % orders.length];
    return { id, label: `${order.customer} #${id}`, total: order.total };
  },
  { memoizeOptions: { maxSize: 32 }, argsMemoizeOptions: { maxSize: 32 } },
);

export function leaky() {
  return selectOrderView(state, ++orderId).label.length;
}

export function fixed() {
  return selectOrderViewBounded(state, ++orderId).label.length;
}
