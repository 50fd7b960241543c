// lodash@4.18.1: _.template() builds its render function with Function(). fixed compiles per call
// (a different text each time) and keeps only the output; leaky memoises compiled templates in a
// Map keyed by the unique text.
import _ from "lodash";

let mailNo = 0;
const data = { user: { name: "Grace", plan: "pro" }, links: ["/docs", "/billing", "/support"] };

function templateText() {
  mailNo++;
  return `<p>Hi <%- user.name %>, ticket ${mailNo} on the <%= user.plan %> plan.</p>` +
    "<% _.forEach(links, function(href) { %><a href=\"<%- href %>\">link</a><% }); %>";
}

const memo = new Map();

export function leaky() {
  const text = templateText();
  let render = memo.get(text);
  if (render === undefined) {
    render = _.template(text);
    memo.set(text, render);
  }
  return render(data).length;
}

export function fixed() {
  return _.template(templateText())(data).length;
}
