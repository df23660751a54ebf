/**
 * Test support: the schemas of an OpenAPI 3.1 document as Ajv validators
 * (JSON Schema 2020-12, strict), `#/components/schemas/X` references included.
 * The document's own components become one `$defs` schema named "doc".
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020.js';

const toDefs = (schema: unknown) => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"doc#/$defs/'));

export function documentSchemas(doc: { components?: { schemas?: Record<string, unknown> } }) {
  // `example` is an OpenAPI annotation Ajv does not know; binary formats are not checked
  const ajv = new Ajv2020({ strict: true, validateFormats: false, allErrors: false });
  ajv.addKeyword('example');
  ajv.addSchema({ $id: 'doc', $defs: toDefs(doc.components?.schemas ?? {}) });
  const cache = new Map<unknown, ValidateFunction>();
  return {
    /** compile (once) a schema taken from the document */
    compile(schema: unknown): ValidateFunction {
      let v = cache.get(schema);
      if (!v) cache.set(schema, (v = ajv.compile(toDefs(schema))));
      return v;
    },
    errors: (v: ValidateFunction) => ajv.errorsText(v.errors),
  };
}
