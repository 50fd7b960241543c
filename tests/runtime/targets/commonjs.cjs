// A CommonJS target: named exports through `exports.x` (Node's lexer sees them) plus setup.
let calls = 0;
exports.counter = function counter() {
  calls++;
};
exports.setup = function setup() {
  console.log("cjs setup");
};
exports.notAFunction = 42;
