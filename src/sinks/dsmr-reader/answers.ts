// What DSMR-reader's answers mean, in one table, for delivering telegrams and for `check`.
//
// From DSMR-reader's source (dsmr_api/views/v1.py, DataloggerDsmrReading.post, and its tests): the datalogger endpoint
// checks, in this order, that the API is enabled (else 405 "API is disabled"), that X-AUTHKEY is the key (else 403
// "Invalid auth key"), and that the form has a `telegram` field (else 400 "Invalid data"); only then is a telegram
// parsed and a reading created (201; 200 from older versions). A telegram it cannot parse is a 400, or a 500 "Failed
// to parse telegram".

export type AnswerMeaning =
  /** The telegram was stored. */
  | 'stored'
  /** This request's data was refused; for a telegram: set it aside. For check's empty request: the key is good. */
  | 'bad-data'
  | 'key-rejected'
  | 'api-disabled'
  | 'not-dsmr-reader'
  | 'redirect'
  /** Try again later: 429, 5xx and anything else. */
  | 'unavailable';

export interface Answer {
  meaning: AnswerMeaning;
  status: number;
  /** The body, stripped of markup and shortened, for a log line. */
  said: string;
}

const MAX_SAID = 200;

export function readAnswer(status: number, body: string): Answer {
  return { meaning: meaningOf(status, body), status, said: brief(body) };
}

function meaningOf(status: number, body: string): AnswerMeaning {
  if (status === 200 || status === 201) return 'stored';
  if (status === 400) return 'bad-data';
  if (status === 500 && /failed to parse telegram/i.test(body)) return 'bad-data';
  if (status === 403) return 'key-rejected';
  if (status === 405) return 'api-disabled';
  if (status === 401 || status === 404) return 'not-dsmr-reader';
  if (status >= 300 && status < 400) return 'redirect';
  return 'unavailable';
}

export function describeAnswer(answer: Answer): string {
  return `HTTP ${answer.status}${answer.said ? `: ${answer.said}` : ''}`;
}

function brief(body: string): string {
  const text = body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > MAX_SAID ? `${text.slice(0, MAX_SAID)}…` : text;
}


