export { type Measurement, measure, measureAsync, printComparison } from './measure.ts';
