// Browser tests of the operator console in Debian's Chromium driven by Playwright
// (playwright-core, no browser download), against a real `vigil demo`: simulated devices ->
// embedded broker -> engine -> console. Prints "N passed, N failed"; exit 1 on any failure.
// Timings are measured and printed, never asserted.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const [vigil, shotDir] = process.argv.slice(2);
const results = [];
const check = (name, ok, detail = "") => {
  results.push(ok);
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? " — " + detail : ""}`);
};

const demo = spawn(vigil, ["demo", "--duration", "150", "--http", "127.0.0.1:0"], {
  stdio: ["ignore", "pipe", "pipe"],
});
let log = "";
demo.stdout.on("data", (d) => (log += d));
demo.stderr.on("data", (d) => (log += d));
const waitFor = async (pred, ms, what) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await pred();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
};

let browser;
try {
  const base = await waitFor(() => (log.match(/console: (http:\/\/127\.0\.0\.1:\d+)\//) || [])[1], 60_000, "the console URL");
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  const api = async (path, token, method = "GET") => {
    const r = await fetch(base + path, { method, headers: { Authorization: `Bearer ${token}` } });
    return { status: r.status, body: await r.json().catch(() => null) };
  };

  // 1. An alarm the simulator's devices produced to the broker appears in the queue.
  await page.goto(`${base}/?token=demo-operator#queue`);
  const row = await waitFor(async () => {
    const n = await page.locator("#queue-table tbody tr").count();
    return n > 0 ? n : 0;
  }, 90_000, "an alarm row");
  const first = page.locator("#queue-table tbody tr").first();
  const alarmId = await first.getAttribute("data-alarm");
  const alarm = (await api(`/api/alarms/${encodeURIComponent(alarmId)}`, "demo-operator")).body;
  const raised = Date.parse((alarm.alarm || alarm).raised_at);
  check("alarm from the broker appears in the queue", row > 0 && !!alarmId,
        `${alarmId}, on screen ${((Date.now() - raised) / 1000).toFixed(1)} s after raised_at (upper bound: includes polling)`);
  check("token from ?token= kept for the session", !(await page.url()).includes("token="));

  // 2. Clicking Ack changes the alarm's status (through the calls topic and the engine).
  const unacked = page.locator('#queue-table tbody tr:has(button[data-action="ack"])').first();
  const ackId = await unacked.getAttribute("data-alarm");
  const t0 = Date.now();
  await unacked.locator('button[data-action="ack"]').click();
  await waitFor(async () => (await page.locator(`#queue-table tbody tr[data-alarm="${ackId}"] td.status`).textContent()) === "ACTIVE_ACK",
                30_000, "ACTIVE_ACK");
  check("ack changes the status to ACTIVE_ACK", true, `${ackId} in ${Date.now() - t0} ms`);

  // 3. An order's timeline shows each transition.
  await page.goto(`${base}/#orders`);
  await waitFor(async () => (await page.locator("#orders-table tbody tr").count()) > 0, 60_000, "an order");
  const orderRow = page.locator("#orders-table tbody tr").first();
  const orderId = await orderRow.getAttribute("data-order");
  await orderRow.click();
  await waitFor(async () => (await page.locator("#order-timeline li").count()) >= 2, 20_000, "a timeline");
  const states = await page.locator("#order-timeline li").evaluateAll((els) => els.map((e) => e.dataset.state));
  check("order timeline shows each transition", states[0] === "CREATED" && states.length >= 2,
        `${orderId}: ${states.join(" -> ")}`);
  if (shotDir) {
    mkdirSync(shotDir, { recursive: true });
    await page.screenshot({ path: `${shotDir}/console-orders.png` });
  }

  // 4. An agency token cannot see another agency's order.
  const order = (await api(`/api/orders/${encodeURIComponent(orderId)}`, "demo-operator")).body;
  const owner = order.agency_id || (order.offered_to || [])[0];
  const other = owner === "ag01" ? "ag02" : "ag01";
  const own = owner ? await api(`/api/orders/${encodeURIComponent(orderId)}`, `demo-agency-${owner}`) : { status: 0 };
  const foreign = await api(`/api/orders/${encodeURIComponent(orderId)}`, `demo-agency-${other}`);
  check("agency token sees its own order", !owner || own.status === 200, `${owner}: ${own.status}`);
  check("another agency's token gets 403", foreign.status === 403, `demo-agency-${other}: ${foreign.status}`);

  if (shotDir) {
    await page.goto(`${base}/#queue`);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: `${shotDir}/console-queue.png` });
    await page.goto(`${base}/#screen`);
    await page.waitForTimeout(5000);
    await page.screenshot({ path: `${shotDir}/console-big-screen.png` });
  }
} catch (e) {
  check("browser run", false, e.message);
  console.log(log.split("\n").slice(-20).join("\n"));
} finally {
  if (browser) await browser.close();
  demo.kill("SIGTERM");
}
const failed = results.filter((x) => !x).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
