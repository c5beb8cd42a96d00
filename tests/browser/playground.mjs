// Opens the router's GraphQL playground in headless Chromium with every host but 127.0.0.1
// unresolvable, runs a query (or a subscription) from the editor and prints the result pane
// as JSON once it holds data. `headers` (JSON) go into the Headers tab, as a user types them.
// Fails (exit 1) on a page error, a failed request, or any request that leaves 127.0.0.1.
//
//   node playground.mjs <graphql url> <query> [headers]
import { launchOfflineChromium } from "./offline-chromium.mjs";

const [url, query, headers] = process.argv.slice(2);
if (!url || !query) {
  console.error("usage: node playground.mjs <graphql url> <query> [headers]");
  process.exit(2);
}

const browser = await launchOfflineChromium();
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("request", (r) => {
    const host = new URL(r.url()).hostname;
    if (host !== "127.0.0.1") problems.push(`request to ${r.url()}`);
  });
  page.on("requestfailed", (r) => problems.push(`failed request ${r.url()}: ${r.failure()?.errorText}`));
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

  if (headers) {
    // What GraphiQL keeps of the Headers tab (shouldPersistHeaders), restored at load.
    await page.addInitScript((h) => localStorage.setItem("graphiql:headers", h), headers);
  }
  await page.goto(url, { waitUntil: "networkidle" });
  await page.waitForSelector(".graphiql-container", { timeout: 15000 });
  await page.evaluate((q) => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(q), query);
  // The editor hands its text to GraphiQL after a debounce, and GraphiQL keeps it in
  // localStorage then; a click before that runs the previous text (for a subscription, over
  // HTTP instead of the WebSocket).
  await page.waitForFunction((q) => localStorage.getItem("graphiql:query") === q, query, {
    timeout: 15000,
    polling: 50,
  });
  // A subscription's answer comes over the page's WebSocket: wait for its first result there.
  // The frame listener is attached the moment the socket exists: waiting for the socket first
  // and then for a frame missed a `next` that arrived in between (seen on a loaded machine).
  const subscription = query.trim().startsWith("subscription");
  let sawNext;
  const nextFrame = new Promise((resolve) => {
    sawNext = resolve;
  });
  if (subscription) {
    page.on("websocket", (ws) =>
      ws.on("framereceived", (frame) => {
        if (String(frame.payload).includes('"next"')) sawNext();
      }),
    );
  }
  await page.click(".graphiql-execute-button");
  if (subscription) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("no `next` over the WebSocket within 60 s")), 60000);
    });
    try {
      await Promise.race([nextFrame, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
  await page.waitForFunction(
    () => document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue().includes('"data"'),
    null,
    { timeout: 30000, polling: 100 },
  );
  const result = await page.evaluate(() => document.querySelector(".graphiql-response .CodeMirror").CodeMirror.getValue());
  if (process.env.PLAYGROUND_SCREENSHOT) await page.screenshot({ path: process.env.PLAYGROUND_SCREENSHOT });
  if (problems.length > 0) {
    console.error(problems.join("\n"));
    process.exit(1);
  }
  console.log(JSON.stringify(JSON.parse(result)));
} finally {
  await browser.close();
}
