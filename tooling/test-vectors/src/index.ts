export type { VectorCase, VectorFormat } from './format.ts';
export {
  loadVectorFile,
  sharedDir,
  sharedVectorsDir,
  type VectorFile,
  vectorPath,
} from './load.ts';
export { type CaseResult, formatsFor, runVectorFile, vectorCases } from './run.ts';
