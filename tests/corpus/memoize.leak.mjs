// lodash@4.18.1 _.memoize vs memoize-one@6.0.0: memoising a price formatter that is called with an
// ever-new argument (a timestamped quote). _.memoize keeps every result in its MapCache forever;
// memoize-one remembers only the last call.
import _ from "lodash";
import memoizeOne from "memoize-one";

let quoteNo = 0;

function formatQuote(key) {
  const [symbol, cents] = key.split(":");
  return { symbol, text: `${symbol} ${(Number(cents) / 100).toFixed(2)} USD` };
}

const memoizedForever = _.memoize(formatQuote);
const memoizedLast = memoizeOne(formatQuote);

export function leaky() {
  quoteNo++;
  return memoizedForever(`ACME:${10000 + quoteNo}`).text.length;
}

export function fixed() {
  quoteNo++;
  return memoizedLast(`ACME:${10000 + quoteNo}`).text.length;
}
