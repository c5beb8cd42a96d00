#!/usr/bin/env bash
# Prints Lighthouse's performance and accessibility scores for pages of a running storefront,
# in Debian's Chromium (mobile emulation and throttling: Lighthouse's defaults).
#   scripts/lighthouse-storefront.sh http://127.0.0.1:4000/ [more URLs...]
# Lighthouse (npm, 12.x: the last line that runs on Node 20) is installed on first use under
# /var/tmp/emporium-tools/lighthouse, outside the repository.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 URL..." >&2; exit 2; }
tools=/var/tmp/emporium-tools/lighthouse
if [ ! -x "$tools/node_modules/.bin/lighthouse" ]; then
  mkdir -p "$tools"
  (cd "$tools" && npm install --no-audit --no-fund --loglevel=error lighthouse@12.8.2)
fi
for url in "$@"; do
  report="$(mktemp)"
  "$tools/node_modules/.bin/lighthouse" "$url" --quiet \
    --chrome-path=/usr/bin/chromium \
    --chrome-flags="--headless --no-sandbox --disable-gpu" \
    --only-categories=performance,accessibility \
    --output=json --output-path="$report" >/dev/null
  node -e '
    const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
    const pct = (c) => Math.round(r.categories[c].score * 100);
    const a = r.audits;
    console.log(`${process.argv[2]}  performance ${pct("performance")}  accessibility ${pct("accessibility")}  FCP ${a["first-contentful-paint"].displayValue}  LCP ${a["largest-contentful-paint"].displayValue}  TBT ${a["total-blocking-time"].displayValue}  CLS ${a["cumulative-layout-shift"].displayValue}`);
    const failed = Object.values(r.categories.accessibility.auditRefs).map((ref) => a[ref.id]).filter((x) => x.score !== null && x.score < 1);
    for (const f of failed) console.log(`  accessibility: ${f.id}: ${f.title}`);
  ' "$report" "$url"
  rm -f "$report"
done
