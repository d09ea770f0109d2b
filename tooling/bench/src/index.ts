export {
  type Contender,
  type InterleavedOptions,
  type InterleavedResult,
  measureInterleaved,
  pairedRatio,
} from './interleaved.ts';
export { type Measurement, measure, measureAsync, printComparison } from './measure.ts';
