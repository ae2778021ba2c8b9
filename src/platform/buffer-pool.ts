// Node hands out small Buffers (Buffer.from of a short string, allocUnsafe under 4 KiB) as slices of one shared
// 8 KiB slab. node:buffer's module scope holds the slab in use, so at the meter's pace it outlives two
// young-generation collections and is promoted. Once full, it waits in old space for a full collection, and its
// 8 KiB stay in malloc's heap meanwhile. A datalogger whose heap stays flat rarely needs a full collection. MQTT
// makes about a hundred small Buffers a telegram, and the slabs piled up at about 3 KB a telegram: 4.7 MiB at the
// bench's fast-feed peak (docs/BENCHMARK.md). Without the pool, each small Buffer is an allocation of its own. It
// dies young with the packet it belonged to.

export function turnOffBufferPool(): void {
  Buffer.poolSize = 0;
}
