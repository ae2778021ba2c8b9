// The stand-in DSMR-reader the tests post to; one implementation, shared with the bench and the demo, in
// scripts/lib/stand-in-dsmr-reader.mjs (see there for what it answers).
export {
  DATALOGGER_PATH,
  decodeForm,
  decodeMultipart,
  formFields,
  percentDecode,
  startApiServer,
  waitForQuiet,
} from '../../scripts/lib/stand-in-dsmr-reader.mjs';
export type {
  ApiServer,
  ApiServerOptions,
  QuietOptions,
  RecordedRequest,
  Reply,
  Responder,
  ResponderRequest,
} from '../../scripts/lib/stand-in-dsmr-reader.mjs';
