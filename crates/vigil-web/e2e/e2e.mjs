// Browser test of the Vigil dashboard in headless Chromium (Debian's, via playwright-core).
// Logs in, opens a beacon finding, marks it acknowledged, exports its report, checks the page
// raised no script or CSP errors, takes screenshots of the main pages, and logs out.
// Environment: VIGIL_URL, VIGIL_USER, VIGIL_PASSWORD, VIGIL_SCREENSHOTS (dir), VIGIL_OUT (dir),
// CHROMIUM (default /usr/bin/chromium). Exit code 0 on success; one line of JSON on stdout.
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const base = process.env.VIGIL_URL;
const user = process.env.VIGIL_USER;
const password = process.env.VIGIL_PASSWORD;
const shots = process.env.VIGIL_SCREENSHOTS;
const out = process.env.VIGIL_OUT || mkdtempSync(join(tmpdir(), "vigil-e2e-out-"));
if (!base || !user || !password) {
  console.error("VIGIL_URL, VIGIL_USER and VIGIL_PASSWORD are required");
  process.exit(2);
}
if (shots) mkdirSync(shots, { recursive: true });

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

const profile = mkdtempSync(join(tmpdir(), "vigil-e2e-profile-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1360, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
const result = {};
try {
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push(String(e)));
  // Nothing may leave the machine: every request must go to the server under test.
  page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) problems.push("external request " + r.url()); });
  const shot = async (name) => { if (shots) await page.screenshot({ path: join(shots, name), fullPage: true }); };

  await page.goto(base + "/findings");
  check(page.url().startsWith(base + "/login"), "unauthenticated visit must land on the login page, got " + page.url());
  await shot("login.png");
  await page.fill("#username", user);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(base + "/"), page.click("#login")]);
  check(await page.isVisible("text=Overview"), "overview after login");
  await shot("overview.png");

  await page.goto(base + "/findings?kind=beacon");
  await shot("findings.png");
  const link = page.locator("table.findings td.wrap a").first();
  check((await link.count()) === 1, "a beacon finding is listed");
  await Promise.all([page.waitForURL(/\/findings\/[^/?]+$/), link.click()]);
  result.finding = page.url();
  check(await page.isVisible("text=Call intervals"), "beacon evidence drawn");
  await page.selectOption("#triage-status", "acknowledged");
  await page.fill("#triage-assignee", user);
  await page.fill("#triage-notes", "Checked in the browser test.");
  await Promise.all([page.waitForURL(result.finding), page.click("#triage-save")]);
  const status = (await page.textContent("#status")).trim();
  check(status === "acknowledged", "status after triage: " + status);
  result.status = status;
  await shot("finding.png");

  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-report")]);
  const reportPath = join(out, "report.html");
  await download.saveAs(reportPath);
  const report = readFileSync(reportPath, "utf8");
  check(report.includes("Incident report"), "report content");
  check(!/(src|href)\s*=\s*["']?(https?:)?\/\//i.test(report), "report has no external reference");
  result.report_bytes = report.length;

  // The report opens on its own (no server needed): render it from the file.
  const rp = await ctx.newPage();
  await rp.goto("file://" + reportPath);
  check(await rp.isVisible("text=Triage history"), "report shows the triage");
  if (shots) await rp.screenshot({ path: join(shots, "report.png"), fullPage: true });
  await rp.close();

  await page.goto(base + "/hosts");
  await shot("hosts.png");
  await page.goto(base + "/exposure");
  await shot("exposure.png");

  await Promise.all([page.waitForURL(base + "/login"), page.click("#logout")]);
  await page.goto(base + "/");
  check(page.url().startsWith(base + "/login"), "after logout the session is gone");
  check(problems.length === 0, "browser problems: " + problems.join(" | "));
  result.ok = true;
  console.log(JSON.stringify(result));
} catch (e) {
  console.error("e2e failed:", e.message, problems);
  process.exitCode = 1;
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
