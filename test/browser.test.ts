// report.html in a real browser: headless Chromium (Debian's, via playwright-core) opens the report,
// the pictures render with ink in them, the per-class table has 8 rows, nothing logs an error, and a
// screenshot is saved to test/.artifacts/report.png. Skipped only where no Chromium is installed
// (.ci/run installs it).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { chromium } from 'playwright-core';

import { inkedSvg } from './helpers/ink';
import { CLI, ROOT, tempDir } from './helpers/paths';

const executablePath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => Boolean(p) && fs.existsSync(p as string));
const work = tempDir('browser');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

(executablePath ? test : test.skip)('the report renders in headless Chromium: both pictures, 8 class rows, no console errors', async () => {
  const demo = spawnSync(process.execPath, [CLI, 'demo', '-o', path.join(work, 'demo'), '--speakers', '4', '--clips-per-class', '1', '--epochs', '2', '--json'], { encoding: 'utf8' });
  if (demo.status !== 0) throw new Error(demo.stderr);
  const report = JSON.parse(demo.stdout).report as string;
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()}`));
    await page.goto(`file://${report}`);
    const rendered = {
      confusion: await page.evaluate(inkedSvg, '#confusion'),
      curves: await page.evaluate(inkedSvg, '#curves'),
      ...(await page.evaluate(() => ({
        cells: document.querySelectorAll('#confusion rect.cell').length,
        curvePaths: Array.from(document.querySelectorAll('#curves path.curve')).map((p) => (p as SVGPathElement).getTotalLength()),
        classRows: document.querySelectorAll('tr.class-row').length,
        uar: document.querySelector('#uar')?.textContent ?? '',
      }))),
    };
    expect(rendered.confusion.width).toBeGreaterThan(300);
    expect(rendered.curves.width).toBeGreaterThan(300);
    expect(rendered.confusion.inkShare).toBeGreaterThan(0.02);
    expect(rendered.curves.inkShare).toBeGreaterThan(0.01);
    expect(rendered.cells).toBe(64);
    expect(rendered.curvePaths).toHaveLength(4);
    for (const length of rendered.curvePaths) expect(length).toBeGreaterThan(10);
    expect(rendered.classRows).toBe(8);
    expect(rendered.uar).toMatch(/^\d+\.\d%$/);
    const artifacts = path.join(ROOT, 'test', '.artifacts');
    fs.mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'report.png'), fullPage: true });
    expect(fs.statSync(path.join(artifacts, 'report.png')).size).toBeGreaterThan(10_000);
    expect(errors).toEqual([]);
  } finally {
    await browser.close();
  }
}, 120_000);
