// What identifies a release: the GitHub repository from package.json, its default download URL, and a base URL that
// must name the version being built.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a build script in plain JavaScript, without type declarations
import { checkBaseUrl, defaultBaseUrl, githubRepository, releaseFiles } from '../../scripts/lib/release-set.mjs';

describe('the release set', () => {
  it('reads the repository in the forms package.json allows', () => {
    expect(githubRepository('github:dsmr-datalogger/dsmr-datalogger')).toBe('dsmr-datalogger/dsmr-datalogger');
    expect(githubRepository('owner/name')).toBe('owner/name');
    expect(githubRepository({ type: 'git', url: 'git+https://github.com/owner/name.git' })).toBe('owner/name');
    expect(githubRepository('https://gitlab.com/owner/name')).toBeUndefined();
    expect(githubRepository(undefined)).toBeUndefined();
  });

  it('defaults to the GitHub release download URL of the version', () => {
    expect(defaultBaseUrl({ repository: 'github:o/r' }, '1.2.3')).toBe('https://github.com/o/r/releases/download/v1.2.3');
    expect(() => defaultBaseUrl({}, '1.2.3')).toThrow(/package.json has no GitHub "repository".*--base-url/);
  });

  it('refuses a base URL that names another release, or one install.sh could not hold safely', () => {
    expect(checkBaseUrl('https://github.com/o/r/releases/download/v1.2.3/', '1.2.3')).toBe('https://github.com/o/r/releases/download/v1.2.3');
    expect(checkBaseUrl('http://mirror.local/dsmr', '1.2.3')).toBe('http://mirror.local/dsmr');
    expect(() => checkBaseUrl('https://github.com/o/r/releases/download/v1.3.0', '1.2.3')).toThrow(
      /--base-url names release v1.3.0, but this build is version 1.2.3/,
    );
    expect(() => checkBaseUrl('https://x/$(id)', '1.2.3')).toThrow(/--base-url must be an http\(s\) URL/);
    expect(() => checkBaseUrl('ftp://x', '1.2.3')).toThrow(/--base-url must be an http\(s\) URL/);
  });

  it('is the bundle, the executables, the arm archive and install.sh', () => {
    expect(releaseFiles(['dsmr-datalogger-linux-x64', 'dsmr-datalogger-linux-arm64'])).toEqual([
      'dsmr-datalogger-linux-arm.tar.gz',
      'dsmr-datalogger-linux-arm64',
      'dsmr-datalogger-linux-x64',
      'dsmr-datalogger.cjs',
      'install.sh',
    ]);
  });
});
