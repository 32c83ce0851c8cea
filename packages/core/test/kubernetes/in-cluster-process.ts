// A driver process for the in-cluster test: records every module it loads, reads one Deployment
// through `inClusterConnection`, and prints what it read and which client-node modules it loaded.
// Started with `node in-cluster-process.ts` (Node 24 runs the TypeScript sources directly).
import { registerHooks } from 'node:module';

const clientNode: string[] = [];
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    if (resolved.url.includes('@kubernetes/client-node')) clientNode.push(resolved.url);
    return resolved;
  },
});
const { createKubeClient, inClusterConnection } = await import('../../src/index.ts');
const client = createKubeClient({
  connection: inClusterConnection({ directory: process.env.KANARY_SA as string }),
});
const shop = await client.get({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  namespace: 'default',
  name: 'shop',
});
await client.close();
process.stdout.write(JSON.stringify({ name: shop?.metadata.name, clientNode }));
