// handlebars@4.7.10: Handlebars.compile() generates JavaScript and builds it with new Function.
// fixed compiles a fresh template on every call (the text differs per call) and keeps only the
// rendered string: nothing of it survives, but the runtime's code caches see a new function source
// every call. leaky keeps every compiled template in a Map keyed by the (unique) template text.
import Handlebars from "handlebars";

let orderNo = 0;
const context = {
  customer: "Ada",
  items: [
    { name: "Widget", price: "9.99" },
    { name: "Gadget", price: "19.50" },
  ],
};

function templateText() {
  orderNo++;
  // The order number is pasted into the template text instead of being passed as data.
  return `<h1>Order #${orderNo} for {{customer}}</h1><ul>{{#each items}}<li>{{name}}: {{price}}</li>{{/each}}</ul>`;
}

const compiled = new Map();

export function leaky() {
  const text = templateText();
  let template = compiled.get(text);
  if (template === undefined) {
    template = Handlebars.compile(text);
    compiled.set(text, template);
  }
  return template(context).length;
}

export function fixed() {
  const template = Handlebars.compile(templateText());
  return template(context).length;
}
