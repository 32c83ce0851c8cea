import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { KubeObject, ObjectRef } from './client.ts';
import type { ClusterConnection } from './connection.ts';
import { createResourcePaths } from './resources.ts';
import { createTransport } from './transport.ts';

export const MERGE_PATCH = 'application/merge-patch+json';
export const JSON_PATCH = 'application/json-patch+json';
// JSON is YAML: the applied configuration goes as JSON under apply's media type.
export const APPLY_PATCH = 'application/apply-patch+yaml';

/** The API's verbs on any kind, as plain JSON over the connection. */
export function objectApi(connection: ClusterConnection) {
  const transport = createTransport(connection);
  const paths = createResourcePaths(transport);
  return {
    transport,
    paths,
    read: async (ref: ObjectRef) => transport.send<KubeObject>('GET', await paths.objectPath(ref)),
    list: async (apiVersion: string, kind: string, namespace?: string, labelSelector?: string) =>
      transport.send<KubernetesListObject<KubernetesObject>>(
        'GET',
        await paths.collectionPath(apiVersion, kind, namespace),
        { query: { labelSelector } },
      ),
    create: async (body: KubernetesObject, fieldManager: string) =>
      transport.send<KubeObject>(
        'POST',
        await paths.collectionPath(
          refOf(body).apiVersion,
          refOf(body).kind,
          refOf(body).namespace ?? 'default',
        ),
        { body, query: { fieldManager } },
      ),
    replace: async (body: KubernetesObject, fieldManager: string) =>
      transport.send<KubeObject>('PUT', await paths.objectPath(refOf(body)), {
        body,
        query: { fieldManager },
      }),
    patch: async (
      ref: ObjectRef,
      body: unknown,
      contentType: string,
      query: { fieldManager: string; force?: boolean },
    ) => transport.send<KubeObject>('PATCH', await paths.objectPath(ref), { body, contentType, query }),
    delete: async (ref: ObjectRef, resourceVersion?: string) =>
      transport.send<unknown>('DELETE', await paths.objectPath(ref), {
        ...(resourceVersion !== undefined
          ? { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion } } }
          : {}),
      }),
  };
}

/** The reference (apiVersion, kind, namespace, name) of an object. */
export function refOf(obj: KubernetesObject): ObjectRef {
  return {
    apiVersion: obj.apiVersion as string,
    kind: obj.kind as string,
    name: obj.metadata?.name as string,
    ...(obj.metadata?.namespace ? { namespace: obj.metadata.namespace } : {}),
  };
}
