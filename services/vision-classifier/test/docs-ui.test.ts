/**
 * The OpenAPI document and Swagger UI, the UI checked in a real headless
 * browser (Debian's chromium, driven by playwright-core; no browser download).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT, serviceForTests } from './helpers.js';

const SEED_APIS = ['/predict_image', '/predict_batch', '/get_model_info', '/health'];

describe('API documentation', () => {
  const svc = serviceForTests();

  it('serves an OpenAPI 3 document of the service at /docs.json', async () => {
    const doc = (await (await fetch(`${svc.url}/docs.json`)).json()) as {
      openapi: string;
      info: { title: string };
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
            responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
          }
        >
      >;
    };
    assert.equal(doc.openapi, '3.0.3');
    assert.equal(doc.info.title, 'mlflow_vision_classifier');
    for (const route of SEED_APIS) assert.ok(doc.paths[route], route);
    const predict = doc.paths['/predict_image'].post;
    const form = predict.requestBody!.content['multipart/form-data'].schema as {
      properties: { image: { format: string } };
    };
    assert.equal(form.properties.image.format, 'binary');
    assert.deepEqual(Object.keys(predict.responses).sort(), ['200', '400', '413', '415', '429', '503', '504']);
    assert.deepEqual(predict.responses['400'].content!['application/json'].schema, {
      $ref: '#/components/schemas/Error',
    });
    const batch = doc.paths['/predict_batch'].post.requestBody!.content['application/json'].schema as {
      required: string[];
      properties: { input: { type: string; maxItems: number } };
    };
    assert.deepEqual(batch.required, ['input']);
    assert.equal(batch.properties.input.type, 'array');
    assert.equal(batch.properties.input.maxItems, 32);
    assert.ok(doc.paths['/metrics'] && doc.paths['/readyz']);
  });

  describe('Swagger UI in headless Chromium', () => {
    let browser: Browser;
    const shots = join(REPO_ROOT, 'test-output');
    before(async () => {
      mkdirSync(shots, { recursive: true });
      browser = await chromium.launch({
        executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    });
    after(() => browser?.close());

    it('renders at /, lists the four seed APIs, and "Try it out" on /health succeeds', async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
      const page = await context.newPage();
      const failures: string[] = [];
      page.on('pageerror', (err) => failures.push(err.message));
      await page.goto(`${svc.url}/`, { waitUntil: 'networkidle' });
      await page.waitForSelector('.opblock', { timeout: 30_000 });
      const listed = await page.locator('.opblock .opblock-summary-path').allInnerTexts();
      for (const route of SEED_APIS)
        assert.ok(
          listed.map((t) => t.replace(/\u200b/g, '').trim()).includes(route),
          `${route} in ${listed.join(', ')}`,
        );
      assert.equal(
        await page
          .locator('.info .title')
          .first()
          .innerText()
          .then((t) => t.split('\n')[0].trim()),
        'mlflow_vision_classifier',
      );
      const health = page.locator('.opblock-get', { has: page.locator('.opblock-summary-path[data-path="/health"]') });
      await health.locator('.opblock-summary').click();
      await health.locator('button.try-out__btn').click();
      await health.locator('button.execute').click();
      const response = health.locator('.live-responses-table .response .response-col_status').first();
      await response.waitFor({ timeout: 15_000 });
      assert.equal((await response.innerText()).trim(), '200');
      const body = await health.locator('.live-responses-table .response-col_description pre').first().innerText();
      assert.deepEqual(JSON.parse(body), { status: 'healthy', service: 'mlflow_vision_classifier' });
      await page.screenshot({ path: join(shots, 'swagger-ui.png'), fullPage: true });
      process.stdout.write(`# screenshot: ${join(shots, 'swagger-ui.png')}\n`);
      assert.deepEqual(failures, []);
      await context.close();
    });
  });
});
