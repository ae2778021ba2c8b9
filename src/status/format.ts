// How durations, power and sizes read for a person: in the page, the health reasons and `dsmr-datalogger status`.

/** "45 s", "6 min", "2 h 5 min", "3 d 4 h". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 120) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h${min % 60 ? ` ${min % 60} min` : ''}`;
  const d = Math.floor(h / 24);
  return `${d} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

/** Watts as "850 W" or "3.42 kW". */
export function formatPower(watts: number): string {
  const w = Math.abs(watts);
  return w < 1000 ? `${Math.round(w)} W` : `${(w / 1000).toFixed(2)} kW`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** "1 telegram", "12 telegrams". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** 1234567 as "1,234,567": without relying on the runtime's locale data. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** kWh registers as the meter shows them, to the Wh. */
export function formatKwh(kwh: number): string {
  return `${kwh.toFixed(3)} kWh`;
}
