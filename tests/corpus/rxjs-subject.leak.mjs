// rxjs@7.8.2: a view subscribes to a long-lived BehaviorSubject through an operator pipeline.
// Without unsubscribe() the subject's observer list keeps every Subscriber and its operator chain.
import { BehaviorSubject, distinctUntilChanged, filter, map } from "rxjs";

const prices$ = new BehaviorSubject({ symbol: "ACME", price: 100 });
let viewNo = 0;

function openView() {
  const view = { id: ++viewNo, lastPrice: 0 };
  const subscription = prices$
    .pipe(
      filter((tick) => tick.symbol === "ACME"),
      map((tick) => tick.price),
      distinctUntilChanged(),
    )
    .subscribe((price) => {
      view.lastPrice = price;
    });
  return { view, subscription };
}

export function leaky() {
  const { view } = openView(); // the subscription is dropped, never unsubscribed
  return view.lastPrice;
}

export function fixed() {
  const { view, subscription } = openView();
  subscription.unsubscribe();
  return view.lastPrice;
}
