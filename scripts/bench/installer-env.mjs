// The environment install.sh's supervisor program gives the datalogger besides HOME and the settings file: the
// bench runs its subject the way the installer runs it. Taken from install.sh itself, so the two cannot drift apart.

/** Variables of the supervisor program's `environment=` line that install.sh sets to a fixed value. */
const FIXED = ['GLIBC_TUNABLES'];

/**
 * @param {string} script install.sh's text
 * @returns {Record<string, string>}
 */
export function installerEnvironment(script) {
  const line = /^environment=(.*)$/m.exec(script)?.[1];
  if (line === undefined) throw new Error('install.sh: no environment= line in the supervisor program');
  /** @type {Record<string, string>} */
  const env = {};
  for (const name of FIXED) {
    const value = new RegExp(`(?:^|,)${name}="([^"]*)"`).exec(line)?.[1];
    if (value === undefined) throw new Error(`install.sh: the supervisor program's environment= line has no ${name}`);
    env[name] = value.replace(/^\$([A-Z_]+)$/, (_, variable) => shellAssignment(script, variable));
  }
  return env;
}

function shellAssignment(script, variable) {
  const value = new RegExp(`^${variable}=(\\S+)$`, 'm').exec(script)?.[1];
  if (value === undefined) throw new Error(`install.sh: ${variable} is not assigned a plain value`);
  return value;
}
