// lru-cache@11.5.3: a lookup cache for user profiles with unique keys. fixed bounds it with
// `max` (entries are evicted, the storage is preallocated); leaky sets only a one-hour `ttl` without
// max, maxSize or ttlAutopurge, which lru-cache itself warns "can result in unbounded memory
// consumption": nothing expires within the run.
import { LRUCache } from "lru-cache";

let userNo = 0;

function loadProfile(id) {
  return { id, name: `user-${id}`, roles: ["reader"], lastSeen: Date.now() };
}

const bounded = new LRUCache({ max: 40 });
const byAgeOnly = new LRUCache({ ttl: 60 * 60 * 1000 });

function lookup(cache) {
  const id = ++userNo; // every call asks for a user not seen before
  let profile = cache.get(id);
  if (profile === undefined) {
    profile = loadProfile(id);
    cache.set(id, profile);
  }
  return profile.name.length;
}

export function leaky() {
  return lookup(byAgeOnly);
}

export function fixed() {
  return lookup(bounded);
}
