// The Node.js versions Kanary runs on, checked before anything else loads: on an older Node the
// HTTP stack fails deep inside undici at load time, with an error that names neither Node nor Kanary.

/** The oldest Node.js release Kanary supports (package.json `engines`; client-node's undici needs it). */
export const MINIMUM_NODE = '22.19.0';

/** Why this Node cannot run Kanary, or undefined when it can. */
export function unsupportedNode(version: string = process.versions.node): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [needMajor = 0, needMinor = 0] = MINIMUM_NODE.split('.').map(Number);
  if (major > needMajor || (major === needMajor && minor >= needMinor)) return undefined;
  return (
    `kanary needs Node.js ${MINIMUM_NODE} or newer; this is Node.js ${version} (${process.execPath}).\n` +
    'Install a current Node.js (24 is the one Kanary is tested on) and run kanary with it, e.g. `npx -p node@24 kanary …`.\n'
  );
}
