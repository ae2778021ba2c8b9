/** Where a server's telegrams wait while it is away: on disk, so a restart loses nothing (see spool/spool.ts). */
export interface Backlog {
  /** Queues a telegram read at `readAt` (epoch ms). */
  append(telegram: Buffer, readAt: number): void;
  readonly count: number;
  /** Bytes of the telegrams waiting (with their record headers). */
  readonly bytes: number;
  /** Epoch ms at which the oldest waiting telegram was read; undefined when none waits (or it is not known). */
  readonly oldestReadAt: number | undefined;
  /**
   * The oldest waiting telegrams, in order, without removing them. They may be views of a buffer the next call
   * reuses: a consumer done with its post() must keep no reference to them.
   */
  readBatch(max: number): Promise<Buffer[]>;
  /** The first n of them were delivered (or set aside). */
  ack(n: number): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly stats: { droppedFull: number; writeErrors: number };
}
