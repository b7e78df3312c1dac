import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRegistry } from '../src/plugins/core-plugin';

const root = path.resolve(__dirname, '..', '..');

describe('README model catalogue', () => {
  it('equals what scripts/model-catalogue.mjs generates from the registry (run it with --write when this fails)', () => {
    const generated = execFileSync(process.execPath, [path.join(root, 'scripts', 'model-catalogue.mjs')], { encoding: 'utf8' }).trimEnd();
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme.includes(generated)).toBe(true);
  });

  it('names every registered model with its params', () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const models = createRegistry().list('model');
    expect(models.length).toBeGreaterThanOrEqual(8);
    for (const model of models) {
      expect(readme).toContain(`| \`${model.id}\` | ${model.task} |`);
      expect(readme).toContain(`- \`${model.id}\`: `);
    }
  });
});
