// What a busy serial port is, and how its holders are named and stopped.
import { describe, expect, it } from 'vitest';
import { describeHolders, isPortBusy, stopAdvice } from '../../src/sources/port-holder.ts';

describe('port holder', () => {
  it("recognises a busy port: EBUSY, and serialport's failed lock; not a missing or forbidden one", () => {
    expect(isPortBusy(Object.assign(new Error('open /dev/ttyUSB0: EBUSY'), { code: 'EBUSY' }))).toBe(true);
    expect(isPortBusy(new Error('Error Resource temporarily unavailable Cannot lock port'))).toBe(true);
    expect(isPortBusy(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toBe(false);
    expect(isPortBusy(Object.assign(new Error('permission denied'), { code: 'EACCES' }))).toBe(false);
    expect(isPortBusy(undefined)).toBe(false);
  });

  it('advises the supervisorctl command for a service it knows, else names the processes', () => {
    const ours = { pid: 812, program: 'dsmr-datalogger', supervisorProgram: 'dsmr-datalogger' };
    const python = { pid: 640, program: 'python3 dsmr_datalogger_api_client.py', supervisorProgram: 'dsmr_client_datalogger' };
    const minicom = { pid: 900, program: 'minicom' };
    expect(describeHolders([ours, minicom])).toBe('PID 812 (dsmr-datalogger), PID 900 (minicom)');
    expect(stopAdvice([ours])).toBe('stop it first: sudo supervisorctl stop dsmr-datalogger');
    expect(stopAdvice([ours, python])).toBe('stop it first: sudo supervisorctl stop dsmr-datalogger && sudo supervisorctl stop dsmr_client_datalogger');
    expect(stopAdvice([minicom])).toBe('stop PID 900 (minicom) first');
    expect(stopAdvice([])).toMatch(/most likely the installed datalogger: sudo supervisorctl stop dsmr-datalogger \(run as root to see which one it is\)/);
  });
});
