// module.exports = a function: the scenario is called "default".
module.exports = function main() {
  return 1;
};
