import { describe, expect, it } from 'vitest';

import backupSource from './backup.ts?raw';
import typetestSource from './openapi.typetest.ts?raw';

/** The names backup.ts exports (types and interfaces). */
function exportedTypes(source: string): string[] {
  return [...source.matchAll(/^export (?:type|interface) (\w+)/gm)].map((m) => m[1]);
}

describe('openapi.typetest.ts', () => {
  it('checks every type of backup.ts against the OpenAPI document', () => {
    const names = exportedTypes(backupSource);
    expect(names.length).toBeGreaterThan(20);
    // Each needs an Agree<Name, …> in SchemaChecks: a new type in backup.ts without one fails here.
    const unchecked = names.filter((name) => !new RegExp(`Assert<Agree<${name}\\b`).test(typetestSource));
    expect(unchecked).toEqual([]);
  });
});
