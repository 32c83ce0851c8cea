/**
 * `/openapi/v2` in the encoding kubectl asks for: gnostic's OpenAPI v2 protobuf
 * (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`), which client-go's
 * `OpenAPISchema()` requests and decodes (kubectl `explain --output=plaintext-openapiv2`, and
 * client-side validation before 1.27). The schema is gnostic's OpenAPIv2.proto, vendored (see
 * ../../vendor/gnostic/README.md); how a swagger document maps onto it follows gnostic's compiler:
 * `$ref` is `_ref`, a type is a list, `items` a list of schemas, maps are lists of named entries,
 * and values of any shape (`default`, `enum`, `example`, `x-*` extensions) are YAML text.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

type Obj = Record<string, unknown>;
const PROTO_DIR = fileURLToPath(new URL('../../vendor/gnostic/', import.meta.url));

let documentType: protobuf.Type | undefined;
function documentMessage(): protobuf.Type {
  if (!documentType) {
    const root = new protobuf.Root();
    const common = root.resolvePath;
    // google/protobuf/any.proto is one of protobufjs's bundled well-known types.
    root.resolvePath = (origin, target) =>
      target.startsWith('google/protobuf/') ? common(origin, target) : `${PROTO_DIR}${target}`;
    root.loadSync('openapiv2/OpenAPIv2.proto', { keepCase: true });
    documentType = root.lookupType('openapi.v2.Document');
  }
  return documentType;
}

/** A value of any shape, as gnostic keeps it: YAML text (JSON is YAML). */
const anyOf = (value: unknown) => ({ yaml: `${JSON.stringify(value)}\n` });

const SCALARS: Record<string, string> = {
  format: 'format',
  title: 'title',
  description: 'description',
  multipleOf: 'multiple_of',
  maximum: 'maximum',
  exclusiveMaximum: 'exclusive_maximum',
  minimum: 'minimum',
  exclusiveMinimum: 'exclusive_minimum',
  maxLength: 'max_length',
  minLength: 'min_length',
  pattern: 'pattern',
  maxItems: 'max_items',
  minItems: 'min_items',
  uniqueItems: 'unique_items',
  maxProperties: 'max_properties',
  minProperties: 'min_properties',
  required: 'required',
  discriminator: 'discriminator',
  readOnly: 'read_only',
};

/** A swagger schema as gnostic's `Schema` message (keywords v2 does not have are left out). */
function schema(s: Obj): Obj {
  const out: Obj = {};
  const extensions: Obj[] = [];
  for (const [key, value] of Object.entries(s)) {
    if (key === '$ref') out._ref = value;
    else if (SCALARS[key]) out[SCALARS[key] as string] = value;
    else if (key === 'type') out.type = { value: Array.isArray(value) ? value : [value] };
    else if (key === 'items')
      out.items = { schema: (Array.isArray(value) ? value : [value]).map((v) => schema(v as Obj)) };
    else if (key === 'allOf') out.all_of = (value as Obj[]).map(schema);
    else if (key === 'properties')
      out.properties = {
        additional_properties: Object.entries(value as Obj).map(([name, v]) => ({
          name,
          value: schema(v as Obj),
        })),
      };
    else if (key === 'additionalProperties')
      out.additional_properties =
        typeof value === 'boolean' ? { boolean: value } : { schema: schema(value as Obj) };
    else if (key === 'default' || key === 'example') out[key] = anyOf(value);
    else if (key === 'enum') out.enum = (value as unknown[]).map(anyOf);
    else if (key.startsWith('x-')) extensions.push({ name: key, value: anyOf(value) });
  }
  if (extensions.length > 0) out.vendor_extension = extensions;
  return out;
}

/** A swagger 2.0 document (info and definitions; paths left empty) in gnostic's protobuf encoding. */
export function encodeOpenApiV2(doc: { info: Obj; definitions: Record<string, Obj> }): Uint8Array {
  const message = documentMessage();
  return message
    .encode(
      message.fromObject({
        swagger: '2.0',
        info: doc.info,
        paths: {},
        definitions: {
          additional_properties: Object.entries(doc.definitions).map(([name, s]) => ({
            name,
            value: schema(s),
          })),
        },
      }),
    )
    .finish();
}
