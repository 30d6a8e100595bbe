// Prints the size of the console's build (every file, and gzipped), against
// the goal of 300 KiB gzipped: node scripts/size.mjs DIST_DIR
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const dist = process.argv[2] ?? 'dist';
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (!name.endsWith('.map')) files.push(path);
  }
})(dist);
let raw = 0;
let gz = 0;
for (const f of files) {
  const bytes = readFileSync(f);
  raw += bytes.length;
  gz += gzipSync(bytes, { level: 9 }).length;
}
const kib = (n) => (n / 1024).toFixed(1);
const goal = 300 * 1024;
console.log(
  `console bundle: ${files.length} files, ${kib(raw)} KiB, ${kib(gz)} KiB gzipped ` +
    `(goal: under 300 KiB gzipped: ${gz < goal ? 'met' : 'NOT met'})`,
);
for (const f of files) console.log(`  ${relative(dist, f)}: ${kib(statSync(f).size)} KiB`);
