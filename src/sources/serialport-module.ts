// serialport's SerialPort class, from its own module rather than the package's index: the index also re-exports ten
// parsers and a mock binding we never use, and whatever is in the bundle is parsed and kept resident at start-up,
// used or not (17 KiB of the minified bundle, docs/BENCHMARK.md).
export const loadSerialPort = () => import('serialport/dist/serialport.js');
