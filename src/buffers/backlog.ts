/** Where an output's telegrams wait while its consumer is away: on disk, so a restart loses nothing (see spool.ts). */
export interface Backlog {
  /** readAt: epoch ms at which the telegram was read from the meter. */
  append(telegram: Buffer, readAt: number): void;
  readonly count: number;
  /** Telegram bytes waiting. */
  readonly bytes: number;
  /** Epoch ms at which the oldest waiting telegram was read; undefined when empty or unknown. */
  readonly oldestReadAt: number | undefined;
  /** The oldest waiting telegrams, in order, without removing them. */
  readBatch(max: number): Promise<Buffer[]>;
  /** The first n of them were delivered (or set aside). */
  ack(n: number): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly stats: { droppedFull: number; writeErrors: number };
}
