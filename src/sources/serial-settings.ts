// Line settings of the P1 serial port. DSMR 2.2/3 meters talk 9600 7E1, DSMR 4/5, Belgian and Luxembourg meters 115200 8N1.
export type Parity = 'none' | 'even' | 'odd' | 'mark' | 'space';

export interface SerialSettings {
  path: string;
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: Parity;
  stopBits: 1 | 1.5 | 2;
  xonxoff: boolean;
  rtscts: boolean;
}

export type LineSettings = Omit<SerialSettings, 'path'>;

export const LINE_115200_8N1: LineSettings = { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1, xonxoff: false, rtscts: false };
export const LINE_9600_7E1: LineSettings = { baudRate: 9600, dataBits: 7, parity: 'even', stopBits: 1, xonxoff: false, rtscts: false };

export function describeLine(line: LineSettings): string {
  return `${line.baudRate} ${line.dataBits}${line.parity[0].toUpperCase()}${line.stopBits}`;
}
