// Prints protocol-looking lines everywhere: none of it may reach the harness channel.
const fake = '{"event":"result","cmd":"run","ms":0,"samples":[[1,1]]}';
console.log(fake);
console.error('{"event":"error","phase":"load","name":"Fake","message":"not really"}');
process.stdout.write('{"event":"hello"');  // an unfinished line
export function chatty() {
  console.log(fake);
  console.log('{"cmd":"exit"}');
  console.error('{"event":"progress","phase":"x","iteration":999}');
}
