// mitt@3.0.1: a widget that subscribes to a shared bus on mount. on() pushes the handler into the
// type's array; the same module-level handler is pushed every time, so the leak adds no new object:
// the handlers array just gets longer (growth WITHOUT new objects).
import mitt from "mitt";

const bus = mitt();
let theme = "light";
let rendered = 0;

function onThemeChange(next) {
  theme = next;
}

function renderWidget(id) {
  bus.emit("render", { id, theme });
  return `<div class="widget ${theme}" data-id="${id}"></div>`.length;
}

bus.on("render", () => {
  rendered++;
});

export function leaky() {
  bus.on("theme", onThemeChange); // mount: subscribe; unmount forgets to unsubscribe
  return renderWidget(rendered);
}

export function fixed() {
  bus.on("theme", onThemeChange);
  try {
    return renderWidget(rendered);
  } finally {
    bus.off("theme", onThemeChange); // unmount
  }
}
