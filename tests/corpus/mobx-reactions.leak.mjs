// mobx@7.1.3: autorun() returns a disposer; until it is called the reaction stays subscribed to the
// observables it read, so the store keeps every reaction (and the closure over its view) alive.
import { autorun, observable } from "mobx";

const store = observable({ theme: "dark", user: { name: "Ada", unread: 3 } });
let viewNo = 0;

function mountView() {
  const view = { id: ++viewNo, text: "" };
  const dispose = autorun(() => {
    view.text = `${store.user.name} (${store.user.unread}) ${store.theme}`;
  });
  return { view, dispose };
}

export function leaky() {
  const { view } = mountView(); // unmount forgets the disposer
  return view.text.length;
}

export function fixed() {
  const { view, dispose } = mountView();
  dispose();
  return view.text.length;
}

