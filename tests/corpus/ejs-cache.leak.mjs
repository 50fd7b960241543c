// ejs@7.0.2: with { cache: true } ejs stores the compiled function in ejs.cache under the filename;
// the default cache is a plain object that "grows continuously" (ejs's own doc comment). Passing a
// per-request filename makes every call a new entry. fixed renders without the cache: it compiles
// (new Function) every call and keeps only the output.
import ejs from "ejs";

const template = "<ul><% for (const item of items) { %><li><%= item.name %> x <%= item.qty %></li><% } %></ul>" +
  "<footer><%= note %></footer>";
let requestNo = 0;

function data() {
  requestNo++;
  return { items: [{ name: "bolt", qty: requestNo % 7 }, { name: "nut", qty: 3 }], note: `req ${requestNo}` };
}

export function leaky() {
  const locals = data();
  return ejs.render(template, locals, { cache: true, filename: `/views/cart-${requestNo}.ejs` }).length;
}

export function fixed() {
  return ejs.render(template, data()).length;
}
