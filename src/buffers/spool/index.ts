// The durable spool, as the rest of the program sees it: see spool.ts.
export { DEFAULT_SPOOL_MAX_BYTES, Spool, type SpoolOptions } from './spool.ts';
export { describeSpoolEvent, type SpoolEvent, type SpoolStats } from './events.ts';
export { SpoolFormatError } from './format.ts';
