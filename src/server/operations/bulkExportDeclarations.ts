import type { OperationDeclaration } from './operationModule';

/**
 * Bulk Data `$export` (Bulk Data Access IG v2.0.0, export.html), served by src/server/bulk/bulkExportRoutes.ts and
 * declared with the IG's own OperationDefinitions, which are published at their canonical URLs.
 */
export const BULK_EXPORT_DECLARATIONS: readonly OperationDeclaration[] = [
  {
    name: 'export',
    resourceTypes: ['Patient'],
    levels: ['type'],
    methods: ['GET', 'POST'],
    definitionUrl: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export',
  },
  {
    name: 'export',
    resourceTypes: ['Group'],
    levels: ['instance'],
    methods: ['GET', 'POST'],
    definitionUrl: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export',
  },
];
