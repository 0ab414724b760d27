/**
 * review.html in a real browser (Debian's Chromium, driven by playwright-core): it loads with no
 * network, shows the diagram with the expected nodes, and a screenshot of it is not blank.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workloadNodeId } from "../../review/report/diagram.ts";
import { runReview } from "../../review/run.ts";
import { exampleConfig } from "../support/config.ts";
import { planDir } from "../support/plan.ts";

/**
 * Runs in the page (a string, as the tests compile without the DOM library): decodes a PNG and
 * returns its size, the spread of its luminance and the share of non-white pixels.
 */
const MEASURE = `async (b64) => {
  const img = new Image();
  img.src = "data:image/png;base64," + b64;
  await img.decode();
  const c = document.createElement("canvas");
  c.width = img.width;
  c.height = img.height;
  const g = c.getContext("2d");
  g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let sum = 0, sq = 0, ink = 0;
  const n = d.length / 4;
  for (let i = 0; i < d.length; i += 4) {
    const y = 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
    sum += y;
    sq += y * y;
    if (y < 240) ink++;
  }
  const mean = sum / n;
  return { width: c.width, height: c.height, stddev: Math.sqrt(sq / n - mean * mean), ink: ink / n };
}`;

const work = mkdtempSync(join(tmpdir(), "plue-review-html-"));
let browser: Browser;
let html: string;

beforeAll(async () => {
  const r = await runReview({ synthDir: planDir(), config: exampleConfig(), outDir: join(work, "review"), today: "2026-12-01" });
  html = r.outputs.find((o) => o.endsWith("review.html")) as string;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("review.html", () => {
  it("is self-contained: no script, stylesheet, image or font is fetched from anywhere", () => {
    const text = readFileSync(html, "utf8");
    expect(text).not.toMatch(/<(script|link|img|iframe)\b/i);
    expect(text).not.toMatch(/url\(|@import|src="http/i);
  });

  it("shows the diagram in Chromium: every stack and workload node, and a screenshot that is not blank", async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const requests: string[] = [];
    page.on("request", (r) => {
      if (!r.url().startsWith("file:")) requests.push(r.url());
    });
    await page.goto(pathToFileURL(html).href);
    const titles = await page.$$eval("#diagram svg g.node title", (ts) => ts.map((t) => t.textContent ?? ""));
    const stacks = readFileSync(join(planDir(), "manifest.json"), "utf8");
    for (const s of Object.keys(JSON.parse(stacks).stacks)) expect(titles).toContain(`s_${s}`);
    for (const w of ["runner", "api", "kube-dns", "metadata-server", "cloud-sql", "api.anthropic.com"])
      expect(titles).toContain(workloadNodeId(w));
    expect(await page.$$eval("#diagram svg g.edge", (es) => es.length)).toBeGreaterThan(10);

    const shot = await (await page.$("#diagram"))?.screenshot({ type: "png" });
    if (!shot) throw new Error("no screenshot");
    // Decode the PNG in the page itself and measure it.
    const stats = (await page.evaluate(`(${MEASURE})(${JSON.stringify(shot.toString("base64"))})`)) as {
      width: number;
      height: number;
      stddev: number;
      ink: number;
    };
    expect(stats.width).toBeGreaterThan(300);
    expect(stats.height).toBeGreaterThan(200);
    expect(stats.ink).toBeGreaterThan(0.02);
    expect(stats.stddev).toBeGreaterThan(15);
    expect(requests).toEqual([]);
    if (process.env.PLUE_REVIEW_SCREENSHOT) writeFileSync(process.env.PLUE_REVIEW_SCREENSHOT, shot);
    await page.close();
  });
});
