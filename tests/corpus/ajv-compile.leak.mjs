// ajv@8.20.0: ajv caches compiled validators by schema OBJECT. A handler that builds its schema
// object inline compiles (code generation + new Function) and caches a new validator per call.
import Ajv from "ajv";

const ajv = new Ajv({ allErrors: true });
let orderNo = 0;

function orderSchema() {
  return {
    type: "object",
    properties: {
      id: { type: "integer", minimum: 1 },
      customer: { type: "string", minLength: 1, maxLength: 64 },
      lines: {
        type: "array",
        items: { type: "object", properties: { sku: { type: "string" }, qty: { type: "integer" } }, required: ["sku", "qty"] },
      },
    },
    required: ["id", "customer", "lines"],
    additionalProperties: false,
  };
}

function order() {
  orderNo++;
  return { id: orderNo, customer: `c${orderNo % 100}`, lines: [{ sku: "A-1", qty: 2 }, { sku: "B-7", qty: 1 }] };
}

export function leaky() {
  const validate = ajv.compile(orderSchema()); // a new schema object: a cache miss every call
  return validate(order());
}

// The fix: compile once, validate per call.
const validateOrder = ajv.compile(orderSchema());

export function fixed() {
  return validateOrder(order());
}
