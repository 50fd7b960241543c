// A poller that checks a source every minute: `start` returns the timer, and whoever started it
// must stop it.
export function schedulePoll(source) {
  return setInterval(() => source.check(), 60_000);
}

export function stopPoll(timer) {
  clearInterval(timer);
}
