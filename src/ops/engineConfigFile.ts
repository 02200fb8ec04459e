import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { validate as isCronPattern } from 'node-cron';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalidInput } from '../fhir/outcomes';
import { packageRoot } from '../fhir/packageRoot';

/** A reference to who Tasks are for (Practitioner/..., CareTeam/..., ...). */
type OwnerReference = string;

interface JobScheduleFile {
  readonly cron?: string;
  readonly enabled?: boolean;
}

/**
 * The engine service's configuration file, as config/twin.schema.json (the single source of truth) describes it:
 * this type mirrors the schema, and a value of it has passed the schema. Every field is optional; defaults are the
 * door's (src/cli/engineSettings.ts). Secrets are not here: the schema refuses them and names the environment variable.
 */
export interface EngineConfigFile {
  readonly server?: {
    readonly port?: number;
    readonly host?: string;
    readonly dataDir?: string;
    readonly seed?: boolean;
    readonly modelDir?: string;
    readonly allowedHosts?: readonly string[];
    readonly allowedOrigins?: readonly string[];
    readonly frameAncestors?: readonly string[];
    readonly timeZone?: string;
    readonly reviewOwner?: OwnerReference;
  };
  readonly auth?: {
    readonly mode?: 'local' | 'external' | 'open';
    readonly issuer?: string;
    readonly jwksUrl?: string;
  };
  readonly fhir?: {
    readonly baseUrl?: string;
    readonly timeoutMs?: number;
    readonly backendServices?: {
      readonly clientId?: string;
      readonly scopes?: readonly string[];
      readonly alg?: 'RS384' | 'ES384';
      readonly kid?: string;
      readonly tokenUrl?: string;
    };
  };
  readonly automation?: {
    readonly enabled?: boolean;
    readonly timezone?: string;
    readonly taskOwner?: OwnerReference;
    readonly refresh?: JobScheduleFile;
    readonly staleData?: JobScheduleFile & { readonly days?: number };
    readonly plateau?: JobScheduleFile & {
      readonly days?: number;
      readonly minDays?: number;
      readonly tolerance?: number;
    };
  };
  readonly queue?: {
    readonly workers?: boolean;
    readonly concurrency?: number;
    readonly prefix?: string;
    readonly lockMs?: number;
  };
}

/** One problem of a configuration file: where (an RFC 6901 JSON pointer into the file) and what. */
export interface ConfigProblem {
  readonly pointer: string;
  readonly message: string;
}

export type ConfigCheck =
  | { readonly ok: true; readonly config: EngineConfigFile }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** Where the schema is shipped, beside the code (resolved from the package root, never from the cwd). */
export const ENGINE_CONFIG_SCHEMA_FILE = (): string => join(packageRoot(), 'config', 'twin.schema.json');

let compiled: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (compiled) {
    return compiled;
  }
  const ajv = new Ajv2020({ allErrors: true });
  // `format: uri` (JSON Schema 2020-12 section 7.3.5) without ajv-formats: what the WHATWG URL parser accepts.
  ajv.addFormat('uri', { type: 'string', validate: (s: string) => URL.canParse(s) });
  // `envSecret: VAR` on a property name pattern: a secret-looking property always fails, naming the variable to use.
  // Secrets in a file end up in backups, tickets and version control; the environment is where they belong.
  ajv.addKeyword({
    keyword: 'envSecret',
    schemaType: 'string',
    errors: true,
    validate: function envSecret(env: string): boolean {
      (envSecret as { errors?: Partial<ErrorObject>[] }).errors = [
        {
          keyword: 'envSecret',
          message: `looks like a secret; secrets are never read from the configuration file: set ${env} instead`,
          params: { env },
        },
      ];
      return false;
    },
  });
  compiled = ajv.compile(JSON.parse(readFileSync(ENGINE_CONFIG_SCHEMA_FILE(), 'utf8')) as object);
  return compiled;
}

/** The pointer an error is about: for a missing or unexpected property, the property itself, not its parent. */
function pointerOf(error: ErrorObject): string {
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const child = params.additionalProperty ?? params.missingProperty;
  const escaped = child?.replaceAll('~', '~0').replaceAll('/', '~1');
  return escaped === undefined ? error.instancePath : `${error.instancePath}/${escaped}`;
}

function messageOf(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') {
    return 'is not a setting of this file (see config/twin.schema.json)';
  }
  if (error.keyword === 'required') {
    return 'is required here';
  }
  if (error.keyword === 'enum') {
    return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return error.message ?? error.keyword;
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** What the schema cannot say: cron patterns node-cron accepts, IANA time zones, minDays within days. */
function semanticProblems(config: EngineConfigFile): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const automation = config.automation;
  for (const job of ['refresh', 'staleData', 'plateau'] as const) {
    const cron = automation?.[job]?.cron;
    if (cron !== undefined && !isCronPattern(cron)) {
      problems.push({ pointer: `/automation/${job}/cron`, message: `"${cron}" is not a cron pattern` });
    }
  }
  for (const [pointer, zone] of [
    ['/automation/timezone', automation?.timezone],
    ['/server/timeZone', config.server?.timeZone],
  ] as const) {
    if (zone !== undefined && !isTimeZone(zone)) {
      problems.push({ pointer, message: `"${zone}" is not an IANA time zone` });
    }
  }
  const plateau = automation?.plateau;
  if (plateau?.minDays !== undefined && plateau.minDays > (plateau.days ?? 14)) {
    problems.push({ pointer: '/automation/plateau/minDays', message: 'must not exceed plateau.days' });
  }
  return problems;
}

/** Checks a parsed configuration against config/twin.schema.json (ajv, draft 2020-12) and the rules beyond it. */
export function checkEngineConfig(value: unknown): ConfigCheck {
  const validate = schemaValidator();
  if (!validate(value)) {
    const problems = (validate.errors ?? [])
      // An `if`/`then` failure is reported by the `then` error itself; the `if` line adds nothing.
      .filter((e) => e.keyword !== 'if')
      .map((e) => ({ pointer: pointerOf(e), message: messageOf(e) }));
    return { ok: false, problems };
  }
  const config = value as EngineConfigFile;
  const problems = semanticProblems(config);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config };
}

/** Reads and checks a configuration file: JSON that is not an object, or not valid, is one ConfigCheck failure. */
export function checkEngineConfigFile(path: string): ConfigCheck {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    return { ok: false, problems: [{ pointer: '', message: `cannot read ${path} (${code})` }] };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [{ pointer: '', message: `not JSON: ${(err as Error).message}` }] };
  }
  return checkEngineConfig(value);
}

/** The file's configuration, or an invalidInput error listing every problem with its pointer. */
export function readEngineConfigFile(path: string): EngineConfigFile {
  const check = checkEngineConfigFile(path);
  if (!check.ok) {
    const lines = check.problems.map((p) => `${p.pointer || '/'}: ${p.message}`);
    throw invalidInput(`Configuration file ${path} is not valid: ${lines.join('; ')}`);
  }
  return check.config;
}
