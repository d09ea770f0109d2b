/**
 * The contract between a package's vector runner and the `npm run vectors` CLI / the test suite.
 *
 * Each package that can check a vector format exports a `VectorFormat` from
 * `test/vector-formats.ts`. The format recognises files from their content (`detect`) and turns a
 * file into named cases, each of which throws (an `AssertionError` or any `Error`) when it fails.
 */
import type { VectorFile } from './load.ts';

export interface VectorCase {
  /** A name unique within the file, e.g. `cases[3] sort by code point` or `invalid[0] float`. */
  readonly name: string;
  /** Runs the case; throws with a description of the mismatch on failure. */
  readonly run: () => void | Promise<void>;
}

export interface VectorFormat {
  /** Short name of the format, e.g. `canonical-json`. */
  readonly name: string;
  /** True when this format understands the file (decided from its content, not its name). */
  detect(file: VectorFile): boolean;
  /** Every case of the file. Must not return an empty list for a file it detected. */
  cases(file: VectorFile): VectorCase[];
}
