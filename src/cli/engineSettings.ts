import { InvalidArgumentError } from 'commander';
import {
  checkAutomationConfig,
  DEFAULT_AUTOMATION_CONFIG,
  type AutomationConfig,
} from '../automation/automationConfig';
import { DEFAULT_LSTM_MODEL_DIR } from '../detect/lstm/modelCard';
import type { EngineConfigFile } from '../ops/engineConfigFile';
import { parseAuthMode, parseList, type DoorSettings } from './clinicianDoorFromSettings';

/**
 * The engine service's settings once the sources are merged, flags aside: environment variables over the
 * configuration file over built-in defaults. `twin serve` and `twin automate` then let a flag given on the command
 * line win over all of these. Nothing secret is in here: secrets stay in the environment, read where they are used.
 */
export interface EngineSettings {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly seed: boolean;
  readonly modelDir: string;
  readonly auth: DoorSettings['auth'];
  readonly authIssuer?: string;
  readonly authJwksUrl?: string;
  readonly allowedOrigins: readonly string[];
  readonly frameAncestors: readonly string[];
  readonly allowedHosts: readonly string[];
  readonly timeZone?: string;
  readonly reviewOwner?: string;
  /** A remote FHIR server the automation works on; undefined: the embedded store. */
  readonly fhirBaseUrl?: string;
  readonly fhirTimeoutMs: number;
  readonly backendServices?: {
    readonly clientId: string;
    readonly scopes: readonly string[];
    readonly alg: string;
    readonly kid?: string;
    readonly tokenUrl?: string;
  };
  /** `twin serve` runs the schedules in-process. */
  readonly automationInServe: boolean;
  readonly automation: AutomationConfig;
  readonly queue: {
    readonly redis: boolean;
    readonly workers: boolean;
    readonly concurrency: number;
    readonly prefix: string;
    readonly lockMs: number;
  };
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`not a TCP port: ${value}`);
  }
  return port;
}

/** An environment variable that is set and not empty. */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function envList(env: NodeJS.ProcessEnv, name: string): string[] | undefined {
  const value = envValue(env, name);
  return value === undefined ? undefined : parseList(value);
}

/** Environment over file over defaults, for every setting of config/twin.schema.json. */
export function engineSettings(file: EngineConfigFile, env: NodeJS.ProcessEnv): EngineSettings {
  const server = file.server ?? {};
  const auth = file.auth ?? {};
  const a = file.automation ?? {};
  const d = DEFAULT_AUTOMATION_CONFIG;
  const port = envValue(env, 'PORT');
  const authMode = envValue(env, 'TWIN_AUTH');
  const issuer = envValue(env, 'TWIN_AUTH_ISSUER') ?? auth.issuer;
  const jwksUrl = envValue(env, 'TWIN_AUTH_JWKS_URL') ?? auth.jwksUrl;
  const timeZone = envValue(env, 'TWIN_TIME_ZONE') ?? server.timeZone;
  const reviewOwner = envValue(env, 'TWIN_REVIEW_OWNER') ?? server.reviewOwner;
  const bs = file.fhir?.backendServices;
  const clientId = envValue(env, 'SMART_CLIENT_ID') ?? bs?.clientId;
  const kid = envValue(env, 'SMART_KID') ?? bs?.kid;
  const tokenUrl = envValue(env, 'SMART_TOKEN_URL') ?? bs?.tokenUrl;
  const automation = checkAutomationConfig({
    timezone: a.timezone ?? d.timezone,
    refresh: { ...d.refresh, ...a.refresh },
    staleData: { ...d.staleData, ...a.staleData },
    plateau: { ...d.plateau, ...a.plateau },
    ...(a.taskOwner ? { taskOwner: a.taskOwner } : {}),
  });
  return {
    port: port === undefined ? (server.port ?? 8080) : parsePort(port),
    host: envValue(env, 'HOST') ?? server.host ?? '127.0.0.1',
    dataDir: envValue(env, 'DATA_DIR') ?? server.dataDir ?? './data',
    seed: server.seed ?? true,
    modelDir: envValue(env, 'TWIN_LSTM_MODEL_DIR') ?? server.modelDir ?? DEFAULT_LSTM_MODEL_DIR(),
    auth: authMode === undefined ? (auth.mode ?? 'local') : parseAuthMode(authMode),
    ...(issuer ? { authIssuer: issuer } : {}),
    ...(jwksUrl ? { authJwksUrl: jwksUrl } : {}),
    allowedOrigins: envList(env, 'TWIN_ALLOWED_ORIGINS') ?? server.allowedOrigins ?? [],
    frameAncestors: envList(env, 'TWIN_FRAME_ANCESTORS') ?? server.frameAncestors ?? [],
    allowedHosts: envList(env, 'TWIN_ALLOWED_HOSTS') ?? server.allowedHosts ?? [],
    ...(timeZone ? { timeZone } : {}),
    ...(reviewOwner ? { reviewOwner } : {}),
    ...(file.fhir?.baseUrl ? { fhirBaseUrl: file.fhir.baseUrl } : {}),
    fhirTimeoutMs: file.fhir?.timeoutMs ?? 2000,
    ...(clientId
      ? {
          backendServices: {
            clientId,
            scopes: envValue(env, 'SMART_SCOPES')?.split(/\s+/).filter(Boolean) ??
              bs?.scopes ?? ['system/*.rs', 'system/*.cud'],
            alg: envValue(env, 'SMART_ALG') ?? bs?.alg ?? 'RS384',
            ...(kid ? { kid } : {}),
            ...(tokenUrl ? { tokenUrl } : {}),
          },
        }
      : {}),
    automationInServe: a.enabled ?? false,
    automation,
    queue: {
      redis: envValue(env, 'REDIS_URL') !== undefined,
      workers: file.queue?.workers ?? true,
      concurrency: file.queue?.concurrency ?? 4,
      prefix: file.queue?.prefix ?? 'recovery-twin',
      lockMs: file.queue?.lockMs ?? 30_000,
    },
  };
}

/**
 * The environment src/fhir/smart/backendServicesFromEnv.ts reads, with the file's non-secret backend-services
 * settings filled in where the environment has none. The private JWKS stays SMART_JWKS_FILE's alone.
 */
export function backendServicesEnv(settings: EngineSettings, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const bs = settings.backendServices;
  if (!bs) {
    return env;
  }
  return {
    ...env,
    SMART_CLIENT_ID: bs.clientId,
    SMART_SCOPES: bs.scopes.join(' '),
    SMART_ALG: bs.alg,
    ...(bs.kid ? { SMART_KID: bs.kid } : {}),
    ...(bs.tokenUrl ? { SMART_TOKEN_URL: bs.tokenUrl } : {}),
  };
}

const onOff = (b: boolean): string => (b ? 'on' : 'off');

/** What `twin config check` prints: the effective settings, one line per part, and whether each secret is set. */
export function settingsSummary(s: EngineSettings, env: NodeJS.ProcessEnv): string[] {
  const set = (name: string): string => `${name} ${envValue(env, name) === undefined ? 'not set' : 'set'}`;
  const a = s.automation;
  const job = (name: string, j: { cron: string; enabled: boolean }): string =>
    `${name} "${j.cron}" ${onOff(j.enabled)}`;
  return [
    `server: ${s.host}:${s.port}, data ${s.dataDir}, seed ${onOff(s.seed)}, learned detector folder ${s.modelDir}`,
    `  time zone ${s.timeZone ?? 'UTC'}, review owner ${s.reviewOwner ?? 'none'}, allowed hosts [${s.allowedHosts.join(', ')}]`,
    `  CORS origins [${s.allowedOrigins.join(', ')}], frame ancestors [${s.frameAncestors.join(', ')}]`,
    `auth: ${s.auth}${s.authIssuer ? `, issuer ${s.authIssuer}` : ''}${s.authJwksUrl ? `, JWKS ${s.authJwksUrl}` : ''}; ${set('TWIN_LOGIN_PASSCODE')}`,
    `fhir: ${s.fhirBaseUrl ?? 'the embedded store'} (readiness timeout ${s.fhirTimeoutMs} ms)`,
    s.backendServices
      ? `  backend services: client ${s.backendServices.clientId}, ${s.backendServices.alg}, scopes ${s.backendServices.scopes.join(' ')}${s.backendServices.tokenUrl ? `, token ${s.backendServices.tokenUrl}` : ''}; ${set('SMART_JWKS_FILE')}`
      : '  backend services: none (no client id)',
    `automation: in twin serve ${onOff(s.automationInServe)}, time zone ${a.timezone}, task owner ${a.taskOwner ?? 'none'}`,
    `  ${job('refresh', a.refresh)}; ${job('stale-data', a.staleData)} after ${a.staleData.days} days; ${job('plateau', a.plateau)} over ${a.plateau.days} days (min ${a.plateau.minDays}, tolerance ${a.plateau.tolerance})`,
    `queue: ${s.queue.redis ? 'BullMQ on Redis (REDIS_URL set)' : 'in-process (REDIS_URL not set)'}, workers ${onOff(s.queue.workers)}, concurrency ${s.queue.concurrency}, prefix ${s.queue.prefix}, lock ${s.queue.lockMs} ms`,
  ];
}
