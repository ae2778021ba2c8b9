import { spawn } from 'node:child_process';

/** A build failure with a message meant for the person running the build; build.mjs prints it and exits 1. */
export class BuildError extends Error {}

/** npm's explanation of a failure is at the top of its error output; the bottom is a pointer to its log. */
export function npmErrorSummary(stderr) {
  return stderr.split('\n').filter((line) => line.startsWith('npm error ') && line.trim() !== 'npm error').slice(0, 4);
}

/**
 * Runs a command to completion and collects its output. Rejects with a BuildError that quotes the tail of stderr,
 * so a failed npm/pkg/tar call explains itself in the build log.
 */
export function run(command, args, { cwd, env, what, summarize } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', (e) => reject(new BuildError(`${what ?? command}: cannot run ${command}: ${e.message}`)));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) return resolve({ stdout, stderr });
      const tail = (summarize ? summarize(stderr) : stderr.trim().split('\n').slice(-8)).join('\n  ');
      reject(new BuildError(`${what ?? command} failed (${signal ?? `exit ${code}`})${tail ? `:\n  ${tail}` : ''}`));
    });
  });
}

export function formatBytes(n) {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}
