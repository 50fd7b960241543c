// Writes one heap snapshot of a process with a real program's heap: npm's own dependency tree
// loaded (hundreds of modules: their source, names and closures) and its packages' metadata and
// READMEs kept as data (JSON objects and long texts, the kind of strings redaction is for).
//
// With `texts`, every .js/.json/.md file under NPM_ROOT is also kept as a string: a heap whose
// bytes are mostly string values (the worst case for redaction's rewrite).
//
// usage: node --expose-gc real_heap.mjs OUT.heapsnapshot [NPM_ROOT] [texts]
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { createRequire } from 'node:module';

const [out, root = '/usr/lib/node_modules/npm', mode = ''] = process.argv.slice(2);
const require = createRequire(path.join(root, 'index.js'));
const modules = path.join(root, 'node_modules');
const loaded = {};
const metadata = [];
const texts = new Map();
for (const scope of fs.readdirSync(modules)) {
  const names = scope.startsWith('@') ? fs.readdirSync(path.join(modules, scope)).map((n) => `${scope}/${n}`) : [scope];
  for (const name of names) {
    const folder = path.join(modules, name);
    try {
      metadata.push(JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8')));
      for (const file of fs.readdirSync(folder)) {
        if (/^readme/i.test(file)) texts.set(name, fs.readFileSync(path.join(folder, file), 'utf8'));
      }
      loaded[name] = require(name);
    } catch {
      // ESM-only or optional packages: their metadata is enough
    }
  }
}
if (mode === 'texts') {
  const walk = (folder) => {
    for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
      const file = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (/\.(js|json|md)$/.test(entry.name)) texts.set(file, fs.readFileSync(file, 'utf8'));
    }
  };
  walk(root);
}
try { loaded.npm = require(root); } catch { /* npm's entry point may need a CLI context */ }
globalThis.kept = { loaded, metadata, texts };
globalThis.gc();
v8.writeHeapSnapshot(out);
console.log(`${Object.keys(loaded).length} modules, ${metadata.length} package.json, ${texts.size} texts`);
