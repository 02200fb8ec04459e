import type { FhirRouteHandler, FhirRouter } from '@medplum/fhir-router';
import type { OperationDefinition, ResourceType } from '@medplum/fhirtypes';

/**
 * An operation the server declares in its CapabilityStatement (capabilitystatement-definitions.html
 * #CapabilityStatement.rest.resource.operation): its code, the resource types it is defined on, and the canonical URL
 * of its OperationDefinition. Operations served by an express router (Bulk Data `$export`) are only declared.
 */
export interface OperationDeclaration {
  /** The operation code without `$`, e.g. `twin-refresh`. */
  readonly name: string;
  readonly resourceTypes: readonly ResourceType[];
  /** Canonical URL of the OperationDefinition. */
  readonly definitionUrl: string;
  /** Instance level (`[type]/[id]/$name`), type level (`[type]/$name`), or both (OperationDefinition.instance/type). */
  readonly levels: readonly ('instance' | 'type')[];
  /** HTTP methods that invoke it; GET only for operations without side effects (R4 operations.html#request). */
  readonly methods: readonly ('GET' | 'POST')[];
}

/**
 * An operation served by the FHIR router: one file per operation in this folder, listed once in `registry.ts`. The same
 * module registers the route and feeds the CapabilityStatement, so neither can name an operation the other lacks.
 */
export interface OperationModule extends OperationDeclaration {
  /** The OperationDefinition itself, published on the server so that `definitionUrl` is readable there. */
  readonly operationDefinition: OperationDefinition;
  readonly handler: FhirRouteHandler;
}

/** Adds each module's route(s) to the router: `POST [type]/[id]/$name` and/or `POST [type]/$name`, per type. */
export function registerOperations(router: FhirRouter, modules: readonly OperationModule[]): void {
  for (const module of modules) {
    for (const type of module.resourceTypes) {
      for (const method of module.methods) {
        if (module.levels.includes('instance')) {
          router.add(method, `${type}/:id/$${module.name}`, module.handler, 'operation');
        }
        if (module.levels.includes('type')) {
          router.add(method, `${type}/$${module.name}`, module.handler, 'operation');
        }
      }
    }
  }
}

/** Operations per resource type, in the shape of CapabilityStatement.rest.resource.operation. */
export function operationsByType(
  declarations: readonly OperationDeclaration[]
): Map<string, { name: string; definition: string }[]> {
  const byType = new Map<string, { name: string; definition: string }[]>();
  for (const declaration of declarations) {
    for (const type of declaration.resourceTypes) {
      const list = byType.get(type) ?? [];
      if (!list.some((op) => op.name === declaration.name)) {
        list.push({ name: declaration.name, definition: declaration.definitionUrl });
      }
      byType.set(type, list);
    }
  }
  return byType;
}

/**
 * Whether `[type]/[id]/$name` or `[type]/$name` (or `$name` at the system level) names an operation a declaration
 * serves with `method`. Used by the app to answer unknown operations with 404 instead of letting the router read
 * `$foo` as a resource id or search.
 */
export function findDeclaration(
  declarations: readonly OperationDeclaration[],
  resourceType: string | undefined,
  level: 'instance' | 'type' | 'system',
  name: string
): OperationDeclaration | undefined {
  return declarations.find(
    (d) =>
      d.name === name &&
      level !== 'system' &&
      d.levels.includes(level) &&
      resourceType !== undefined &&
      (d.resourceTypes as readonly string[]).includes(resourceType)
  );
}
