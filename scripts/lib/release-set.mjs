import { readdir, readFile, rename, rm, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { ARCHIVE_NAME } from './portable-archive.mjs';
import { BUNDLE_NAME } from './bundle.mjs';
import { BuildError } from './run.mjs';

// What one release is: the files published as a GitHub release's assets, and nothing else in dist/.

export const INSTALLER_NAME = 'install.sh';

/** Every file of a release but SHA256SUMS, which covers exactly these. */
export function releaseFiles(binaryNames) {
  return [BUNDLE_NAME, ...binaryNames, ARCHIVE_NAME, INSTALLER_NAME].sort();
}

/** `github:owner/name`, `owner/name`, or a {url} / URL string on github.com: the GitHub owner/name. */
export function githubRepository(repository) {
  const spec = typeof repository === 'object' && repository !== null ? repository.url : repository;
  if (typeof spec !== 'string') return undefined;
  const match =
    /^(?:github:)?([\w.-]+)\/([\w.-]+?)$/.exec(spec) ?? /github\.com[/:]([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(spec);
  return match ? `${match[1]}/${match[2]}` : undefined;
}

/** Where GitHub serves the assets of release v{version} of the package.json's repository. */
export function defaultBaseUrl(packageJson, version) {
  const repo = githubRepository(packageJson.repository);
  if (!repo) throw new BuildError(`package.json has no GitHub "repository" (e.g. "github:owner/name"): give --base-url URL`);
  return `https://github.com/${repo}/releases/download/v${version}`;
}

/**
 * A base URL laid out as GitHub's (…/releases/download/vX.Y.Z) names its release: it must be this build's version,
 * or install.sh would check one release's artifacts against another's SHA256SUMS.
 */
export function checkBaseUrl(baseUrl, version) {
  if (!/^https?:\/\/[^\s'"\\$`]+$/.test(baseUrl)) {
    throw new BuildError(`--base-url must be an http(s) URL without spaces, quotes or $ (got: ${baseUrl})`);
  }
  const tag = /\/releases\/download\/([^/]+)\/?$/.exec(baseUrl)?.[1];
  if (tag !== undefined && tag !== `v${version}`) {
    throw new BuildError(`--base-url names release ${tag}, but this build is version ${version}: bump package.json's version (or give --version ${tag.replace(/^v/, '')})`);
  }
  return baseUrl.replace(/\/+$/, '');
}

/** install.sh with the release it belongs to written into it: its version and where its artifacts are published. */
export async function writeInstaller({ repoRoot, outDir, version, baseUrl }) {
  let text = await readFile(join(repoRoot, INSTALLER_NAME), 'utf8');
  for (const [name, value] of [
    ['RELEASE_VERSION', `v${version}`],
    ['RELEASE_BASE_URL', baseUrl],
  ]) {
    const line = new RegExp(`^${name}=.*$`, 'm');
    if (!line.test(text)) throw new BuildError(`${INSTALLER_NAME} has no line ${name}=... to write the release into`);
    text = text.replace(line, `${name}=${value}`);
  }
  const output = join(outDir, INSTALLER_NAME);
  await writeFile(`${output}.partial`, text);
  await chmod(`${output}.partial`, 0o755);
  await rename(`${output}.partial`, output);
  return output;
}

/** Removes whatever an earlier build or release left in dist/ that is not part of this one. */
export async function removeStale(outDir, keep) {
  const removed = [];
  for (const entry of await readdir(outDir, { withFileTypes: true })) {
    if (keep.includes(entry.name)) continue;
    await rm(join(outDir, entry.name), { recursive: true, force: true });
    removed.push(entry.name);
  }
  return removed;
}
