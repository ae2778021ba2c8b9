// What the kernel knows about a running datalogger: CPU ticks, resident memory, bytes written, open files.
// Everything is summed over the process and its descendants, so a subject started through a wrapper (npx, a shell
// script) is measured whole; the two subjects the bench is about (the single executable and python3) have none.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

let ticksPerSecond;

/** sysconf(_SC_CLK_TCK): the unit of utime/stime in /proc/PID/stat. */
export function clockTicksPerSecond() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // what every Linux since 2.6 reports to user space
    }
  }
  return ticksPerSecond;
}

/** Fields of /proc/PID/stat after the command name, which may itself hold spaces and parentheses. */
function statFields(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** The process and all its live descendants, parent first. */
export function processTree(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(statFields(entry)[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // Ended between readdir and read: not ours to count.
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

/**
 * User and system CPU of the tree, plus what the root has reaped from ended children, in clock ticks. Threads
 * (libuv's pool, V8's compiler and GC threads) are included in their process's figures.
 */
export function cpuTimes(pid) {
  const times = { user: 0, system: 0 };
  for (const [i, member] of processTree(pid).entries()) {
    try {
      const f = statFields(member);
      // After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
      times.user += Number(f[11]) + (i === 0 ? Number(f[13]) : 0);
      times.system += Number(f[12]) + (i === 0 ? Number(f[14]) : 0);
    } catch {
      // A descendant that ended meanwhile is in the root's cutime once reaped.
    }
  }
  return times;
}

/** utime+stime of the tree (see cpuTimes), in clock ticks. */
export function cpuTicks(pid) {
  const { user, system } = cpuTimes(pid);
  return user + system;
}

/**
 * Resident memory in bytes, summed over the tree: now (VmRSS), split into anonymous memory (RssAnon: heaps, stacks)
 * and file-backed pages (RssFile: the executable's and libraries' pages that were touched, which the kernel can
 * drop and read again under memory pressure), and the high-water mark since start (VmHWM).
 */
export function memory(pid) {
  const total = { rss: 0, anon: 0, file: 0, hwm: 0 };
  for (const member of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${member}/status`, 'utf8');
      const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
      total.rss += kb('VmRSS');
      total.anon += kb('RssAnon');
      total.file += kb('RssFile') + kb('RssShmem');
      total.hwm += kb('VmHWM');
    } catch {
      // ended meanwhile
    }
  }
  return total;
}

/**
 * /proc/PID/io summed over the tree. write_bytes is what the process made the block layer write (page cache it
 * dirtied; pipes, sockets and ttys never count); wchar is every byte handed to write() and friends, sockets too.
 */
export function io(pid) {
  const total = { writeBytes: 0, cancelledWriteBytes: 0, wchar: 0, syscw: 0 };
  for (const member of processTree(pid)) {
    try {
      const text = readFileSync(`/proc/${member}/io`, 'utf8');
      const value = (name) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      total.writeBytes += value('write_bytes');
      total.cancelledWriteBytes += value('cancelled_write_bytes');
      total.wchar += value('wchar');
      total.syscw += value('syscw');
    } catch {
      // ended meanwhile
    }
  }
  return total;
}

/**
 * The whole machine's CPU from /proc/stat, in clock ticks summed over all CPUs: busy (user, nice and system time of
 * processes; interrupt time is left out, as the loopback traffic and disk writes of the measured programs themselves
 * are handled there) and steal (time the hypervisor gave to someone else while we wanted to run).
 */
export function machineCpu() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, idle, iowait, , , steal] = fields.map(Number);
  return { busy: user + nice + system, steal: steal ?? 0, idle: idle + iowait };
}

/**
 * What else ran while a phase was measured, as a percentage of one CPU: the machine's busy time minus the bench's
 * own process tree (the bench, socat, the subject). A latency tail measured while this is high says little about
 * the subject.
 */
export function noiseMeter() {
  const start = { machine: machineCpu(), ours: cpuTicks(process.pid), at: Date.now() };
  return () => {
    const machine = machineCpu();
    const oneCpu = ((Date.now() - start.at) / 1000) * clockTicksPerSecond();
    const others = machine.busy - start.machine.busy - (cpuTicks(process.pid) - start.ours);
    return {
      othersPercentOfOneCpu: Math.max(0, (100 * others) / oneCpu),
      stealPercentOfOneCpu: (100 * (machine.steal - start.machine.steal)) / oneCpu,
    };
  };
}

/** True when `pid` itself (not its descendants: this is polled every millisecond) has `target` open. */
export function hasOpen(pid, target) {
  let fds;
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** Distinct files mapped into the tree's memory (executable, shared libraries, mapped data), for their sizes. */
export function mappedFiles(pid) {
  const files = new Set();
  for (const member of processTree(pid)) {
    let text;
    try {
      text = readFileSync(`/proc/${member}/maps`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const path = line.split(/\s+/).slice(5).join(' ');
      if (path.startsWith('/') && !path.endsWith(' (deleted)')) files.add(path);
    }
  }
  return [...files];
}
