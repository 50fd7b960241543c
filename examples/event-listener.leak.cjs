// An EventEmitter listener added on every call and never removed (CommonJS target).
// Seed: "event listeners" (000, 002, 004): `emitter.on(...)` inside a handler.
const { EventEmitter } = require("node:events");

const configBus = new EventEmitter();
configBus.setMaxListeners(0); // the warning would have told you; many apps silence it

class Subscription {
  constructor(id) {
    this.id = id;
    this.received = 0;
  }
}

let nextId = 0;

exports.leaky = function leaky() {
  const subscription = new Subscription(nextId++);
  configBus.on("reload", function onReload() {
    subscription.received++;
  });
  return subscription.id;
};

exports.fixed = function fixed() {
  const subscription = new Subscription(nextId++);
  const onReload = () => {
    subscription.received++;
  };
  configBus.on("reload", onReload);
  configBus.emit("reload");
  configBus.off("reload", onReload); // the fix: remove it when the work is done
  return subscription.received;
};
