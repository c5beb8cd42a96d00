// Drives the storefront the router serves, in headless Chromium, as a shopper would: every
// control is found by its role and accessible name. Every host but 127.0.0.1 is unresolvable.
// Prints one JSON object of findings on success; on failure prints why, saves a screenshot of
// every open page (FAILURE_DIR, default the working directory) and exits 1.
//
//   node storefront.mjs <base url> catalogue '<json>'   search with a typo, facet, sort, URL state,
//                                                       product page, out of stock, hostile name
//   node storefront.mjs <base url> journey '<json>'     an option facet, a variant picked (a sold-out
//                                                       one refused), sign up from the cart, choose shipping, apply a
//                                                       discount code, checkout (double
//                                                       click), live CONFIRMED then SHIPPED by an
//                                                       admin in a second context, declined card,
//                                                       expired access token, reused refresh token
//
// SCREENSHOT_DIR, when set, receives the README's screenshots.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launchOfflineChromium } from "./offline-chromium.mjs";

const [base, scenario, rawParams] = process.argv.slice(2);
if (!base || !scenario || !rawParams) {
  console.error("usage: node storefront.mjs <base url> <catalogue|journey> <json params>");
  process.exit(2);
}
const params = JSON.parse(rawParams);
const WAIT = { timeout: 60_000 };
const screenshotDir = process.env.SCREENSHOT_DIR;
const failureDir = process.env.FAILURE_DIR || ".";

const browser = await launchOfflineChromium();
const pages = [];
const pageErrors = [];

async function newPage(name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  page.on("pageerror", (e) => pageErrors.push(`${name}: ${e.message}`));
  pages.push({ name, page });
  return page;
}

async function screenshot(page, name) {
  if (!screenshotDir) return;
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, name) });
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const searchBox = (page) => page.getByRole("searchbox", { name: "Search products" });
const resultList = (page) => page.getByRole("list", { name: "Products" });
const productLinks = (page) => resultList(page).getByRole("heading").getByRole("link");

/** Waits until the result list shows exactly `names`, in this order. */
async function waitForNames(page, names) {
  await page.waitForFunction(
    (want) => {
      const list = [...document.querySelectorAll("[aria-label='Products'] h3 a")].map((a) => a.textContent);
      return JSON.stringify(list) === JSON.stringify(want);
    },
    names,
    WAIT,
  );
}

async function catalogue() {
  const page = await newPage("catalogue");
  const found = {};
  await page.goto(base, { waitUntil: "domcontentloaded" });
  await searchBox(page).waitFor(WAIT);
  // Browse: the categories come from the facets.
  await page.getByRole("link", { name: /^Audio \(\d+\)$/ }).waitFor(WAIT);
  await screenshot(page, "storefront-catalogue.png");

  // Search as you type, with a typo; the time from the last keystroke to the results.
  await searchBox(page).click();
  await searchBox(page).pressSequentially(params.typo, { delay: 40 });
  const typed = performance.now();
  // The typo's results: the matched word highlighted, the count of the matches.
  await productLinks(page).filter({ hasText: params.typoMatch }).first().locator("mark").first().waitFor(WAIT);
  found.keystrokeToResultsMs = Math.round(performance.now() - typed);
  await page.getByRole("heading", { name: `${params.typoCount} products` }).waitFor(WAIT);
  await screenshot(page, "storefront-search-typo.png");

  // Then a facet: the sub-category narrows the results to it.
  await page.getByRole("link", { name: new RegExp(`^${params.facet} \\(${params.facetCount}\\)$`) }).click();
  await page.waitForURL(/category=/, WAIT);
  await page.getByRole("heading", { name: `${params.facetCount} products` }).waitFor(WAIT);

  // Then sort by price, low to high.
  await page.getByRole("combobox", { name: "Sort by" }).selectOption({ label: "Price: low to high" });
  await waitForNames(page, params.byPrice);
  check(/sort=PRICE_ASC/.test(page.url()), `the URL does not hold the sort: ${page.url()}`);

  // A reload restores the query, the facet and the sort from the URL.
  await page.reload({ waitUntil: "domcontentloaded" });
  await waitForNames(page, params.byPrice);
  check((await searchBox(page).inputValue()) === params.typo, "the search box lost the query on reload");
  check(
    (await page.getByRole("combobox", { name: "Sort by" }).inputValue()) === "PRICE_ASC",
    "the sort was not restored on reload",
  );

  // The product page: price, attributes, live availability, add enabled.
  await productLinks(page).filter({ hasText: params.product.name }).click();
  await page.getByRole("heading", { level: 1, name: params.product.name }).waitFor(WAIT);
  await page.getByText(params.product.price, { exact: true }).waitFor(WAIT);
  await page.getByRole("rowheader", { name: params.product.attribute }).waitFor(WAIT);
  await page.getByText(`In stock: ${params.product.available} available`).waitFor(WAIT);
  check(await page.getByRole("button", { name: "Add to cart" }).isEnabled(), "Add to cart is disabled in stock");
  found.productPage = page.url();

  // Out of stock: the button is disabled.
  await page.goto(`${base}/products/${params.soldOut}`, { waitUntil: "domcontentloaded" });
  await page.getByText("Out of stock", { exact: true }).waitFor(WAIT);
  check(await page.getByRole("button", { name: "Add to cart" }).isDisabled(), "Add to cart is enabled when out of stock");

  // A hostile product name is text, not markup.
  await page.goto(base, { waitUntil: "domcontentloaded" });
  await searchBox(page).fill(params.hostileQuery);
  await productLinks(page).filter({ hasText: params.hostileName }).first().waitFor(WAIT);
  const injected = await page.evaluate(() => ({
    ran: window.__xss === true,
    images: document.querySelectorAll("img[src='x']").length,
  }));
  check(!injected.ran && injected.images === 0, `the hostile name was rendered as markup: ${JSON.stringify(injected)}`);
  found.hostileShownAsText = true;
  return found;
}

/** Every GraphQL request over HTTP (urql sends queries as GET, mutations as POST) and its status. */
function recordApi(page) {
  const log = [];
  log.pending = [];
  page.on("response", (response) => log.pending.push(record(response)));
  async function record(response) {
    const request = response.request();
    const url = new URL(request.url());
    if (url.pathname !== "/graphql") return;
    const entry = { at: Date.now(), operation: "?", status: response.status(), refused: response.status() === 401 };
    log.push(entry);
    const body = request.postData() || "";
    entry.operation =
      url.searchParams.get("operationName") ??
      /"operationName":"(\w+)"/.exec(body)?.[1] ??
      /(?:query|mutation)\s+(\w+)/.exec(url.searchParams.get("query") ?? body)?.[1] ??
      "?";
    // A subgraph refuses an expired token inside a 200 (its clock leeway is shorter).
    const text = await response.text().catch(() => "");
    if (text.includes('"UNAUTHENTICATED"')) entry.refused = true;
  }
  return log;
}

async function fillAddress(page) {
  await page.getByRole("textbox", { name: "Address line 1" }).fill("1 Market Street");
  await page.getByRole("textbox", { name: "City" }).fill("Springfield");
  await page.getByRole("textbox", { name: "Postal code" }).fill("12345");
  await page.getByRole("textbox", { name: "Country" }).fill("US");
}

const status = (page) => page.getByRole("status").filter({ hasText: /^(PENDING|CONFIRMED|SHIPPED|DELIVERED|CANCELLED|REJECTED)$/ });

/** Waits until the results heading counts `count` products. */
async function waitForCount(page, count) {
  await page.getByRole("heading", { name: `${count} product${count === 1 ? "" : "s"}` }).waitFor(WAIT);
}

async function journey() {
  const found = {};
  const shopper = await newPage("shopper");
  const api = recordApi(shopper);

  // Found by an option facet; on its page, a sold-out variant cannot be added and the one in
  // stock shows its price.
  const option = params.option;
  await shopper.goto(`${base}/?q=${encodeURIComponent(params.searchWord)}`, { waitUntil: "domcontentloaded" });
  await shopper
    .getByRole("group", { name: option.name })
    .getByRole("checkbox", { name: new RegExp(`^${option.chosen} \\(1\\)$`) })
    .check();
  await shopper.waitForURL(/opt=/, WAIT);
  await waitForCount(shopper, 1);
  await productLinks(shopper).filter({ hasText: params.productName }).click();
  await shopper.getByRole("heading", { level: 1, name: params.productName }).waitFor(WAIT);
  const picker = shopper.getByRole("group", { name: option.name });
  await picker.getByRole("radio", { name: option.soldOut }).check();
  await shopper.getByText("Out of stock", { exact: true }).waitFor(WAIT);
  check(await shopper.getByRole("button", { name: "Add to cart" }).isDisabled(), "a sold-out variant can be added");
  await picker.getByRole("radio", { name: option.chosen }).check();
  await shopper.getByText(option.chosenPrice, { exact: true }).waitFor(WAIT);
  await shopper.getByText(/^In stock: \d+ available$/).waitFor(WAIT);
  await screenshot(shopper, "storefront-variant-picker.png");

  // Add while signed out: asked to sign in (here: create an account), then the add completes.
  await shopper.getByRole("button", { name: "Add to cart" }).click();
  await shopper.waitForURL(/\/signin/, WAIT);
  await shopper.getByRole("link", { name: "Create an account" }).click();
  await shopper.getByRole("textbox", { name: "Name" }).fill("Browser Shopper");
  await shopper.getByRole("textbox", { name: "Email" }).fill(params.email);
  await shopper.getByRole("textbox", { name: "Password" }).fill(params.password);
  await shopper.getByRole("button", { name: "Create account" }).click();
  const signedInAt = Date.now();
  await shopper.getByRole("link", { name: "Cart (1)" }).waitFor(WAIT);
  await shopper.getByRole("heading", { level: 1, name: params.productName }).waitFor(WAIT);

  // Checkout with the approved card, double-clicking "Place order".
  await shopper.getByRole("link", { name: "Cart (1)" }).click();
  await shopper.getByRole("link", { name: "Checkout" }).click();
  // An empty address: the API's userErrors are shown beside their fields; nothing is placed.
  await shopper.getByRole("button", { name: "Place order" }).click();
  await shopper
    .getByRole("textbox", { name: "Address line 1" })
    .and(shopper.locator("[aria-invalid='true']"))
    .waitFor(WAIT);
  check(/\/checkout$/.test(shopper.url()), `an invalid checkout left the page: ${shopper.url()}`);
  await fillAddress(shopper);
  // Shipping for the address, a discount code, and the country's tax in the order summary.
  await shopper.getByRole("button", { name: "Show shipping options" }).click();
  const standard = { name: /^Standard, \$5\.00/ };
  await shopper.getByRole("radio", standard).click();
  await shopper.getByRole("radio", { ...standard, checked: true }).waitFor(WAIT);
  await shopper.getByRole("textbox", { name: "Discount code" }).fill(params.discountCode.toLowerCase());
  await shopper.getByRole("button", { name: "Apply code" }).click();
  const summary = shopper.getByRole("region", { name: "Order summary" });
  await summary.getByText(`Discount ${params.discountCode}`).waitFor(WAIT);
  await summary.getByText(params.taxLine).waitFor(WAIT);
  await summary.getByText(params.expectedTotal).waitFor(WAIT);
  await shopper.getByRole("button", { name: `Remove code ${params.discountCode}` }).waitFor(WAIT);
  found.summary = await summary.textContent();
  await shopper.getByRole("radio", { name: "Visa, approved" }).check();
  await shopper.getByRole("button", { name: "Place order" }).dblclick();
  await shopper.waitForURL(/\/orders\/[^/]+$/, WAIT);
  const confirmedOrder = shopper.url().split("/").pop();
  found.confirmedOrder = confirmedOrder;
  found.checkoutRequests = api.filter((r) => r.operation === "Checkout").length;
  await status(shopper).waitFor(WAIT);
  found.firstStatusShown = await status(shopper).textContent();
  await shopper.getByRole("status").filter({ hasText: "CONFIRMED" }).waitFor(WAIT);

  // An admin ships it from a second browser; the shopper's page turns SHIPPED by itself.
  const admin = await newPage("admin");
  await admin.goto(`${base}/signin`, { waitUntil: "domcontentloaded" });
  await admin.getByRole("textbox", { name: "Email" }).fill(params.adminEmail);
  await admin.getByRole("textbox", { name: "Password" }).fill(params.adminPassword);
  await admin.getByRole("button", { name: "Sign in" }).click();
  await admin.getByRole("link", { name: "Admin" }).click();
  const row = admin.getByRole("row").filter({ hasText: confirmedOrder });
  await row.getByRole("button", { name: "Ship" }).click();
  await row.getByRole("button", { name: "Deliver" }).waitFor(WAIT);
  await shopper.getByRole("status").filter({ hasText: "SHIPPED" }).waitFor(WAIT);
  await shopper.getByRole("listitem").filter({ hasText: "SHIPPED" }).first().waitFor(WAIT);
  await screenshot(shopper, "storefront-live-order.png");

  // A declined card: the order is REJECTED, with its reason.
  await shopper.goto(`${base}/products/${params.productId}`, { waitUntil: "domcontentloaded" });
  await shopper.getByRole("button", { name: "Add to cart" }).click();
  await shopper.getByRole("link", { name: "Cart (1)" }).waitFor(WAIT);
  await shopper.getByRole("link", { name: "Cart (1)" }).click();
  await shopper.getByRole("link", { name: "Checkout" }).click();
  await fillAddress(shopper);
  await shopper.getByRole("radio", { name: "Card that will be declined" }).check();
  await shopper.getByRole("button", { name: "Place order" }).click();
  await shopper.waitForURL((url) => /\/orders\/[^/]+$/.test(url.pathname) && !url.pathname.endsWith(confirmedOrder), WAIT);
  found.rejectedOrder = shopper.url().split("/").pop();
  await shopper.getByRole("status").filter({ hasText: "REJECTED" }).waitFor(WAIT);
  await shopper.getByText(/Reason: PAYMENT_DECLINED/).waitFor(WAIT);

  // Notifications about the orders, with the unread count; marking one read lowers it.
  await shopper.getByRole("link", { name: /^Notifications \(\d+ unread\)$/ }).waitFor(WAIT);
  await shopper.getByRole("link", { name: /^Notifications/ }).click();
  const markRead = shopper.getByRole("button", { name: /^Mark read: / });
  await markRead.first().waitFor(WAIT);
  const unread = await markRead.count();
  // Notifications of the orders above may still arrive, so the one marked is followed by its
  // own name rather than by the total.
  const marked = await markRead.first().getAttribute("aria-label");
  const sameName = (label) =>
    [...document.querySelectorAll("button[aria-label^='Mark read: ']")].filter((b) => b.getAttribute("aria-label") === label).length;
  const markedBefore = await shopper.evaluate(sameName, marked);
  await markRead.first().click();
  await shopper.waitForFunction(
    ([label, count]) =>
      [...document.querySelectorAll("button[aria-label^='Mark read: ']")].filter((b) => b.getAttribute("aria-label") === label).length === count - 1,
    [marked, markedBefore],
    WAIT,
  );
  found.unreadBeforeMarking = unread;

  // The access token expires (the platform's TTL is short). The next request is refused (401
  // from the router, or UNAUTHENTICATED from a subgraph), refreshed once and retried, and the
  // shopper sees their orders without noticing. The header's unread count polls too, so the
  // refusal may come from it first: any refused request followed by a refresh and the same
  // operation answered counts.
  await shopper.goto(base, { waitUntil: "domcontentloaded" });
  await shopper.getByRole("link", { name: "Orders" }).waitFor(WAIT);
  const before = api.length;
  const lastToken = Math.max(signedInAt, ...api.filter((r) => r.operation === "Refresh").map((r) => r.at));
  // Past the expiry and the subgraphs' 5 s leeway. Waiting for the clock; nothing is timed.
  const expiredAt = lastToken + (params.accessTokenTtlSecs + 7) * 1000;
  await shopper.waitForTimeout(Math.max(0, expiredAt - Date.now()));
  await shopper.getByRole("link", { name: "Orders" }).click();
  await shopper.getByRole("link", { name: confirmedOrder }).waitFor(WAIT);
  await shopper.getByRole("link", { name: found.rejectedOrder }).waitFor(WAIT);
  await Promise.all(api.pending);
  const after = api.slice(before);
  found.afterExpiry = after.map((r) => `${r.operation}:${r.status}${r.refused ? ":refused" : ""}`);
  const refused = after.findIndex((r) => r.refused);
  check(refused >= 0, `no request was refused after the token expired: ${found.afterExpiry}`);
  const refreshed = after.findIndex((r, i) => i > refused && r.operation === "Refresh" && r.status === 200 && !r.refused);
  check(refreshed > refused, `no refresh after the refusal: ${found.afterExpiry}`);
  check(
    after.some((r, i) => i > refreshed && r.operation === after[refused].operation && !r.refused),
    `the refused ${after[refused].operation} was not retried: ${found.afterExpiry}`,
  );
  check(await shopper.getByRole("button", { name: "Sign out" }).isVisible(), "the shopper was signed out by the refresh");
  check((await shopper.getByRole("alert").count()) === 0, "the refresh showed the shopper a message");

  // A refresh token used elsewhere: the next refresh is refused and the shopper is signed out,
  // told why.
  const stored = await shopper.evaluate(() => localStorage.getItem("emporium.refreshToken"));
  check(stored, "no refresh token was stored");
  const stolen = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      query: "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken userErrors { code } } }",
      variables: { t: stored },
    }),
  }).then((r) => r.json());
  check(stolen.data?.refreshToken?.accessToken, `spending the stored refresh token failed: ${JSON.stringify(stolen)}`);
  await shopper.reload({ waitUntil: "domcontentloaded" });
  await shopper.getByRole("alert").filter({ hasText: "You have been signed out" }).waitFor(WAIT);
  await shopper.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sign in" }).waitFor(WAIT);
  return found;
}

// Asks for a password reset from the sign-in page.
async function forgotPassword() {
  const page = await newPage("forgot");
  await page.goto(`${base}/signin`);
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.getByRole("heading", { level: 1, name: "Reset your password" }).waitFor(WAIT);
  await page.getByRole("textbox", { name: "Email" }).fill(params.email);
  await page.getByRole("button", { name: "Send a reset link" }).click();
  await page.getByRole("heading", { level: 1, name: "Check your mail" }).waitFor(WAIT);
  return { asked: true };
}

// Opens a mailed reset link: a weak password is refused beside its field, a good one signs in,
// and the same link opened again is refused.
async function resetPassword() {
  const page = await newPage("reset");
  await page.goto(params.link);
  await page.getByRole("heading", { level: 1, name: "Choose a new password" }).waitFor(WAIT);
  await page.getByLabel("New password").fill("short");
  await page.getByRole("button", { name: "Set password and sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "at least 8 characters" }).waitFor(WAIT);
  await page.getByLabel("New password").fill(params.password);
  await page.getByRole("button", { name: "Set password and sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor(WAIT);
  const again = await newPage("reset-again");
  await again.goto(params.link);
  await again.getByLabel("New password").fill(params.password);
  await again.getByRole("button", { name: "Set password and sign in" }).click();
  await again.getByRole("alert").filter({ hasText: "invalid, expired or already used" }).waitFor(WAIT);
  return { signedIn: true, reuseRefused: true };
}

// Opens a mailed verification link twice.
async function verifyEmail() {
  const page = await newPage("verify");
  await page.goto(params.link);
  await page.getByRole("status").filter({ hasText: "Your email address is confirmed" }).waitFor(WAIT);
  const again = await newPage("verify-again");
  await again.goto(params.link);
  await again.getByRole("status").filter({ hasText: "invalid, expired or already used" }).waitFor(WAIT);
  return { verified: true };
}

let exitCode = 0;
try {
  const scenarios = { catalogue, journey, forgotPassword, resetPassword, verifyEmail };
  const run = scenarios[scenario];
  if (!run) throw new Error(`unknown scenario ${scenario}`);
  const found = await run();
  if (pageErrors.length > 0) throw new Error(`page errors:\n${pageErrors.join("\n")}`);
  console.log(JSON.stringify(found));
} catch (error) {
  exitCode = 1;
  console.error(`${scenario} failed: ${error.stack || error}`);
  if (pageErrors.length > 0) console.error(`page errors:\n${pageErrors.join("\n")}`);
  mkdirSync(failureDir, { recursive: true });
  for (const { name, page } of pages) {
    const path = join(failureDir, `storefront-${scenario}-${name}-failure.png`);
    try {
      await page.screenshot({ path, fullPage: true });
      console.error(`screenshot of ${name} (${page.url()}): ${path}`);
    } catch (shotError) {
      console.error(`no screenshot of ${name}: ${shotError.message}`);
    }
  }
} finally {
  await browser.close();
}
process.exit(exitCode);
