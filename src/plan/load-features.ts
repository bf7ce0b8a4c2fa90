/** @module Loads a `features.ts` module and compiles its feature set. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RecsignalError } from '../core/errors.ts';
import type { FeatureSetDef } from '../features/dsl.ts';
import { compileFeatureSet, type CompiledFeatureSet } from './compile.ts';

/** The module's default export (or its `featureSet` export), compiled; every definition problem is listed. */
export async function loadFeatureSet(path: string): Promise<CompiledFeatureSet> {
  const full = resolve(path);
  if (!existsSync(full)) throw new RecsignalError('NOT_FOUND', `--features '${path}': no such file; point it at a module that does \`export default defineFeatureSet({...})\``);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(full).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new RecsignalError('INVALID_DEFINITION', `--features '${path}' failed to load: ${(cause as Error).message}`, { cause });
  }
  const def = (mod['default'] ?? mod['featureSet']) as FeatureSetDef | undefined;
  if (def === undefined) throw new RecsignalError('INVALID_DEFINITION', `--features '${path}' has no default export; add \`export default defineFeatureSet({...})\``);
  return compileFeatureSet(def);
}
