// The one interface an output kind implements: take one telegram, say what became of it.
// Everything else (queueing, the durable backlog, retries, ordering) is the output's, shared by every kind.

export type DeliveryResult =
  /** Accepted by the consumer (DSMR-reader 200/201, every MQTT publish acknowledged). */
  | { outcome: 'delivered'; answer?: string }
  /** This one telegram was refused for good (DSMR-reader 400 or "Failed to parse telegram"): set it aside, go on. */
  | { outcome: 'rejected'; reason: string }
  /** The consumer refuses everything until a person acts: wrong key or password, API disabled, wrong address. */
  | { outcome: 'refused'; reason: string }
  /** Not reachable now (connection error, timeout, 429, 5xx, broker away): keep everything and retry. */
  | { outcome: 'unavailable'; reason: string; retryAfterMs?: number };

export type OutputKind = 'dsmr-reader' | 'mqtt';

export interface Sink {
  readonly kind: OutputKind;
  /** Where it delivers, as shown to a person in logs and /status; never holds a secret. */
  readonly target: string;
  /** Delivers one telegram, exactly as the meter sent it. Never throws: every failure is a DeliveryResult. */
  post(telegram: Buffer): Promise<DeliveryResult>;
  /**
   * Optional cheap reachability check (a TCP connect, an MQTT CONNACK) used between backed-off attempts, so that
   * a consumer that is back is noticed within seconds without hammering one that is away.
   */
  probe?(): Promise<boolean>;
  close(): Promise<void> | void;
}
