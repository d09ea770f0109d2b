/**
 * The page's files, from `ui/`. The browser code is erasable-syntax TypeScript like the rest of
 * Weft; Node's own type stripper (`module.stripTypeScriptTypes`, the one that runs our `.ts`
 * files) turns each module into JavaScript once, at start. No bundler, no build step, and the
 * browser loads the modules by their `.ts` names.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.ts': 'text/javascript; charset=utf-8',
  '.png': 'image/png',
};

/** Loads every file of the UI directory: URL path (`/ui/app.ts`) → content. */
export function loadAssets(dir = join(import.meta.dirname, 'ui')): ReadonlyMap<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const extension = name.slice(name.lastIndexOf('.'));
    const type = TYPES[extension];
    if (type === undefined || name.endsWith('.d.ts')) continue;
    const raw = readFileSync(join(dir, name));
    const body =
      extension === '.ts'
        ? Buffer.from(stripTypeScriptTypes(raw.toString('utf8'), { mode: 'strip' }))
        : raw;
    assets.set(name === 'index.html' ? '/' : `/ui/${name}`, { type, body });
  }
  return assets;
}
