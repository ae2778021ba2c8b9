// A pair of linked ptys made by socat stands in for the meter's serial port: the datalogger opens one end
// (devicePath), the test writes telegrams into the other (meterPath). One implementation, shared with the bench, in
// scripts/lib/pty.mjs (see there for how socat behaves).
export { openPty } from '../../scripts/lib/pty.mjs';
export type { Pty, PtyOptions } from '../../scripts/lib/pty.mjs';
