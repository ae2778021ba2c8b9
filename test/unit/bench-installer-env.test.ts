// The bench runs its subject with the environment install.sh's supervisor program sets; if that line changed shape
// and the bench silently lost it, its memory figures would no longer be those of an installed datalogger.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { installerEnvironment } from '../../scripts/bench/installer-env.mjs';

const INSTALL_SH = readFileSync(new URL('../../install.sh', import.meta.url), 'utf8');

describe('installerEnvironment', () => {
  it("takes GLIBC_TUNABLES from install.sh's supervisor program, with the variable it names filled in", () => {
    expect(installerEnvironment(INSTALL_SH)).toEqual({ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072' });
  });

  it('reads a value written out on the environment= line as it is', () => {
    expect(installerEnvironment('environment=HOME="$DATA_DIR",GLIBC_TUNABLES="glibc.malloc.trim_threshold=1"\n')).toEqual({
      GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1',
    });
  });

  it('fails, naming what is missing, rather than measure without it', () => {
    expect(() => installerEnvironment('command=x\n')).toThrow('install.sh: no environment= line in the supervisor program');
    expect(() => installerEnvironment('environment=HOME="/x"\n')).toThrow("environment= line has no GLIBC_TUNABLES");
    expect(() => installerEnvironment('environment=GLIBC_TUNABLES="$NOPE"\n')).toThrow('install.sh: NOPE is not assigned a plain value');
  });
});
