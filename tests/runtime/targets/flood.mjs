// Writes FLOOD_MB megabytes to stdout (and a little to stderr) in one call.
const chunk = "x".repeat(1024 * 1024 - 1) + "\n";
export function flood() {
  const mb = Number(process.env.FLOOD_MB || 200);
  for (let i = 0; i < mb; i++) process.stdout.write(chunk);
  console.error("flood done");
  console.log("the end");
}
