/**
 * The dependency rules of the Weft monorepo, as data, and a checker for them.
 *
 * DEVELOPERS.md: "a package imports only packages above it (ratchet and canonical-json use no
 * other Weft package; apps use packages, never the reverse)". `../shared/STYLE.md` narrows that to
 * the table below; anything not listed is forbidden. Protocol packages run in browsers, so their
 * `src/` imports no `node:` built-in and no third-party module but `@noble/*`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/** Which Weft workspaces each workspace may import (by directory, e.g. `packages/dag`). */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  'packages/canonical-json': [],
  'packages/signing': ['packages/canonical-json'],
  'packages/dag': ['packages/canonical-json', 'packages/signing'],
  'packages/ratchet': [],
  'packages/epoch': ['packages/ratchet', 'packages/canonical-json'],
  'packages/transport': ['packages/canonical-json', 'packages/signing'],
  'apps/server': [
    'packages/canonical-json',
    'packages/signing',
    'packages/dag',
    'packages/transport',
  ],
  'apps/client': [
    'packages/canonical-json',
    'packages/signing',
    'packages/dag',
    'packages/ratchet',
    'packages/epoch',
    'packages/transport',
  ],
};

/** Third-party modules a protocol package's `src/` may import: @noble/* everywhere, and the
 * HTTP framework (Hono, web-standard Request/Response, so it also runs outside Node) in transport. */
const PROTOCOL_THIRD_PARTY = /^@noble\/(curves|hashes|ciphers)(\/|$)/;
const EXTRA_THIRD_PARTY: Readonly<Record<string, RegExp>> = {
  'packages/transport': /^hono(\/|$)/,
};

interface Workspace {
  readonly dir: string;
  readonly name: string;
  readonly manifest: {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
}

function readWorkspaces(root: string): Workspace[] {
  const result: Workspace[] = [];
  for (const group of ['packages', 'apps', 'tooling']) {
    const groupDir = join(root, group);
    if (!existsSync(groupDir)) continue;
    for (const name of readdirSync(groupDir).sort()) {
      const manifestPath = join(groupDir, name, 'package.json');
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Workspace['manifest'] & {
        name: string;
      };
      result.push({ dir: `${group}/${name}`, name: manifest.name, manifest });
    }
  }
  return result;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (/\.(ts|tsx|js|mjs)$/.test(entry)) files.push(path);
  }
  return files;
}

/** Module specifiers of static and dynamic imports and re-exports (comments stripped first). */
export function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const specifiers: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) if (match[1]) specifiers.push(match[1]);
  }
  return specifiers;
}

/** Finds a cycle in `graph` (node → neighbours); returns it as a path, or undefined. */
export function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Checks the monorepo at `root`; returns one message per violation (empty when all is well). */
export function checkBoundaries(root: string): string[] {
  const problems: string[] = [];
  const workspaces = readWorkspaces(root);
  const byName = new Map(workspaces.map((w) => [w.name, w]));
  const graph = new Map<string, string[]>();

  for (const ws of workspaces) {
    const isTooling = ws.dir.startsWith('tooling/');
    const allowed = ALLOWED[ws.dir];
    if (!isTooling && allowed === undefined) {
      problems.push(`${ws.dir}: not in the rules table (tooling/boundaries/src/rules.ts)`);
      continue;
    }
    const edges: string[] = [];
    const runtime = { ...ws.manifest.dependencies, ...ws.manifest.peerDependencies };
    for (const dep of Object.keys(runtime)) {
      const target = byName.get(dep);
      if (!target) continue;
      edges.push(target.dir);
      if (target.dir.startsWith('tooling/')) {
        problems.push(`${ws.dir}: tooling package ${dep} may only be a devDependency`);
      } else if (target.dir.startsWith('apps/')) {
        problems.push(`${ws.dir}: depends on the app ${dep}; apps use packages, never the reverse`);
      } else if (!isTooling && !allowed?.includes(target.dir)) {
        problems.push(`${ws.dir}: may not depend on ${dep}`);
      }
    }
    graph.set(ws.dir, edges);

    const srcDir = join(root, ws.dir, 'src');
    const isProtocol = ws.dir.startsWith('packages/');
    for (const file of sourceFiles(srcDir)) {
      const where = relative(root, file);
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.')) {
          const target = resolve(file, '..', spec);
          if (!target.startsWith(`${resolve(root, ws.dir)}/`)) {
            problems.push(`${where}: relative import ${spec} leaves its workspace`);
          }
          continue;
        }
        const weft = /^(@weft\/[^/]+)(\/.*)?$/.exec(spec);
        if (weft?.[1]) {
          const target = byName.get(weft[1]);
          if (!target) problems.push(`${where}: imports unknown workspace ${spec}`);
          else if (!isTooling && !allowed?.includes(target.dir)) {
            problems.push(`${where}: ${ws.dir} may not import ${spec}`);
          } else if (!(weft[1] in runtime)) {
            problems.push(`${where}: imports ${weft[1]}, which package.json does not list`);
          }
          continue;
        }
        if (isProtocol && spec.startsWith('node:')) {
          problems.push(`${where}: protocol packages run in browsers; no ${spec} in src/`);
        } else if (
          isProtocol &&
          !PROTOCOL_THIRD_PARTY.test(spec) &&
          !EXTRA_THIRD_PARTY[ws.dir]?.test(spec)
        ) {
          problems.push(
            `${where}: protocol packages may import only @noble/* (and transport hono), not ${spec}`,
          );
        }
      }
    }
  }

  const cycle = findCycle(graph);
  if (cycle) problems.push(`dependency cycle: ${cycle.join(' → ')}`);
  return problems;
}
