// Which descriptors of a process point at a device: how the tests see that a port is held, released or reopened.
import { readdirSync, readlinkSync } from 'node:fs';

export function fdsOpenOn(device: string, pid: number | 'self' = 'self'): string[] {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === device;
    } catch {
      return false;
    }
  });
}
