// Prints the production bundle's size (total and gzip) and the JavaScript a first visit
// loads (the entry script and its modulepreloads named in dist/index.html); exits 1 when that
// is over the budget. Run after `vite build`.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_GZIP_JS = 250 * 1024;
const dist = "dist";

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}
const gzip = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

let total = 0;
let totalGzip = 0;
for (const path of files(dist)) {
  const size = statSync(path).size;
  const zipped = gzip(path);
  total += size;
  totalGzip += zipped;
  console.log(`${path.padEnd(48)} ${kb(size).padStart(10)} ${kb(zipped).padStart(10)} gzip`);
}
const html = readFileSync(join(dist, "index.html"), "utf8");
const firstLoad = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => join(dist, m[1]));
const firstLoadGzip = firstLoad.reduce((sum, path) => sum + gzip(path), 0);
console.log(`total: ${kb(total)} (${kb(totalGzip)} gzip)`);
console.log(`first-load JavaScript: ${firstLoad.length} file(s), ${kb(firstLoadGzip)} gzip (budget ${kb(BUDGET_GZIP_JS)})`);
if (firstLoadGzip > BUDGET_GZIP_JS) {
  console.error("over budget");
  process.exit(1);
}
