// Notices a missing serial device coming back, so the port is reopened within milliseconds of a replug rather than
// at the next poll. It watches the directories the device appears in (inotify through fs.watch): the configured
// path's directory, and for a symlink (/dev/serial/by-id/...) also its target's. A directory that does not exist yet
// (/dev/serial/by-id appears with the first USB serial device) is watched for through its nearest existing ancestor.
import { existsSync, lstatSync, readlinkSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export interface DeviceWatcher {
  close(): void;
}

/**
 * Calls `onChange` whenever one of `paths` (the configured device path, and the device it last led to) may have
 * appeared or changed. It may call it for nothing; it may miss events (no inotify, watch limits): the caller keeps
 * a slow poll as well.
 */
export type DeviceWatch = (paths: string[], onChange: () => void) => DeviceWatcher;

const MAX_LINK_HOPS = 8;

export const watchDevice: DeviceWatch = (paths, onChange) => {
  const watchers = new Map<string, FSWatcher>();
  let wanted = new Map<string, Set<string>>();
  let closed = false;

  const refresh = () => {
    wanted = directoriesToWatch(paths);
    for (const [dir, watcher] of watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        watchers.delete(dir);
      }
    }
    for (const dir of wanted.keys()) {
      if (watchers.has(dir)) continue;
      let watcher: FSWatcher;
      try {
        watcher = watch(dir, { persistent: false }, (_event, filename) => {
          if (closed) return;
          // A directory also sees its other entries change (/dev does, a lot): only ours, or its own removal, count.
          const name = typeof filename === 'string' ? filename : filename ? String(filename) : undefined;
          if (name !== undefined && !wanted.get(dir)?.has(name) && existsSync(dir)) return;
          refresh();
          onChange();
        });
      } catch {
        continue; // No inotify here, or its limits are reached: the poll covers it.
      }
      watcher.on('error', () => {
        watcher.close();
        if (watchers.get(dir) === watcher) watchers.delete(dir);
      });
      watchers.set(dir, watcher);
    }
  };

  refresh();
  return {
    close() {
      closed = true;
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
};

/** Directory → the entry names in it that matter. */
export function directoriesToWatch(paths: string[]): Map<string, Set<string>> {
  const wanted = new Map<string, Set<string>>();
  const add = (dir: string, name: string) => {
    const names = wanted.get(dir) ?? new Set<string>();
    names.add(name);
    wanted.set(dir, names);
  };
  const watchPath = (path: string) => {
    // The nearest existing directory on the way to the path, for the next step down, and its parent for the
    // directory itself: a directory removed and made anew (udev's by-id) would leave a watch on the old one.
    let dir = dirname(path);
    let name = basename(path);
    while (!existsSync(dir) && dir !== dirname(dir)) {
      name = basename(dir);
      dir = dirname(dir);
    }
    add(dir, name);
    if (dir !== dirname(dir)) add(dirname(dir), basename(dir));
  };
  for (const start of paths) {
    let path = resolve(start);
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      watchPath(path);
      const target = linkTarget(path);
      if (target === undefined) break;
      path = resolve(dirname(path), target);
    }
  }
  return wanted;
}

function linkTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}
