import { gzipSync } from 'node:zlib';
import { DatabaseSync } from 'node:sqlite';
import type { Resource } from '@medplum/fhirtypes';
import type { ResourceValidator } from '../../src/fhir/validation';

/**
 * A bounded, seeded fuzz of the embedded FHIR server over loopback: the requests of issue 16's list (malformed paging,
 * bad %-encoding, deep JSON, gzip lies, broken Bundles, invalid resources, bad ids, bad ETags, unknown operations)
 * mixed at random with valid ones. Every request is built from the seed, so a failure replays exactly.
 */
export interface FuzzCase {
  readonly label: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Relative to the FHIR base, without a leading slash (may be '' for the base itself). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** `refuse`: a write the server must not accept (any 2xx counts against it). */
  readonly expect: 'refuse' | 'any';
}

export interface FuzzResult {
  readonly requests: number;
  readonly serverErrors: number;
  /** Labels of the requests answered 5xx (or not answered at all), with their status. */
  readonly serverErrorSamples: string[];
  /** Writes the server should have refused but answered 2xx. */
  readonly acceptedInvalid: number;
  readonly acceptedInvalidSamples: string[];
  readonly byStatus: Record<string, number>;
}

/** mulberry32: a small seeded PRNG, so every run with the same seed sends the same requests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JSON_TYPE = { 'Content-Type': 'application/fhir+json' };

const patient = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  resourceType: 'Patient',
  name: [{ family: 'Fuzz', given: ['Ann'] }],
  birthDate: '1970-01-01',
  ...extra,
});
const observation = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: 'Patient/fuzz-p1' },
  effectiveDateTime: '2025-01-01T08:00:00Z',
  valueQuantity: { value: 60, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
  ...extra,
});

/** Resources the base R4 specification refuses: wrong JSON types, two choice types, inherited names, bad codes. */
const INVALID_BODIES: readonly [string, string][] = [
  ['name:[1]', JSON.stringify(patient({ name: [1] }))],
  ['name:"x"', JSON.stringify(patient({ name: 'x' }))],
  ['name:[["x"]]', JSON.stringify(patient({ name: [['x']] }))],
  ['gender:5', JSON.stringify(patient({ gender: 5 }))],
  ['gender:bogus', JSON.stringify(patient({ gender: 'bogus' }))],
  ['birthDate:2024-02-30', JSON.stringify(patient({ birthDate: '2024-02-30' }))],
  ['active:"yes"', JSON.stringify(patient({ active: 'yes' }))],
  ['active:null', JSON.stringify(patient({ active: null }))],
  ['unknown element', JSON.stringify(patient({ favouriteColour: 'blue' }))],
  ['constructor', JSON.stringify(patient()).replace('{', '{"constructor":{"a":1},')],
  ['__proto__', JSON.stringify(patient()).replace('{', '{"__proto__":{"a":1},')],
  ['toString', JSON.stringify(patient()).replace('{', '{"toString":"x",')],
  ['hasOwnProperty', JSON.stringify(patient({ name: [{ family: 'x', hasOwnProperty: 1 }] }))],
  ['two choice types', JSON.stringify(observation({ valueString: 'sixty' }))],
  ['choice of an unknown type', JSON.stringify(observation({ valueQuantity: undefined, valueFoo: 1 }))],
  ['status missing', JSON.stringify(observation({ status: undefined }))],
  ['status bogus', JSON.stringify(observation({ status: 'bogus' }))],
  ['code:[...]', JSON.stringify(observation({ code: [{ text: 'x' }] }))],
  ['subject:"Patient/1"', JSON.stringify(observation({ subject: 'Patient/1' }))],
  ['valueQuantity.value:"60"', JSON.stringify(observation({ valueQuantity: { value: '60' } }))],
  ['extension without url', JSON.stringify(patient({ extension: [{ valueString: 'x' }] }))],
  ['contained bad id', JSON.stringify(patient({ contained: [{ resourceType: 'Organization', id: 'a b' }] }))],
  ['contained not a resource', JSON.stringify(patient({ contained: [{ id: 'x' }] }))],
  [
    'meta.profile heartrate without value',
    JSON.stringify(
      observation({
        meta: { profile: ['http://hl7.org/fhir/StructureDefinition/heartrate'] },
        valueQuantity: undefined,
        code: { text: 'x' },
      })
    ),
  ],
  ['resourceType unknown', JSON.stringify({ resourceType: 'Patientt' })],
  ['resourceType missing', JSON.stringify({ name: [{ family: 'x' }] })],
];

/** Ids FHIR R4 datatypes.html#id does not allow. */
const BAD_IDS: readonly string[] = [
  'a;b',
  'a'.repeat(1000),
  '*',
  '%zz',
  'a b',
  'a\r\nb',
  'a"b',
  "a'b",
  'a\u202eb',
  'é',
  'a/b',
  '',
];

function choose<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

function deepJson(depth: number): string {
  return '{"resourceType":"Patient","extension":' + '['.repeat(depth) + ']'.repeat(depth) + '}';
}

function uuid(random: () => number): string {
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;
}

type Generator = (random: () => number, n: number) => FuzzCase;

const GENERATORS: readonly Generator[] = [
  // Invalid resources by POST, PUT and inside transactions and batches.
  (random) => {
    const [label, body] = choose(random, INVALID_BODIES);
    const type = body.includes('"Observation"') ? 'Observation' : 'Patient';
    return { label: `POST invalid ${label}`, method: 'POST', path: type, headers: JSON_TYPE, body, expect: 'refuse' };
  },
  (random, n) => {
    const [label, body] = choose(random, INVALID_BODIES);
    const type = body.includes('"Observation"') ? 'Observation' : 'Patient';
    const id = `fuzz-put-${n}`;
    const withId = body.replace('{', `{"id":"${id}",`);
    return {
      label: `PUT invalid ${label}`,
      method: 'PUT',
      path: `${type}/${id}`,
      headers: JSON_TYPE,
      body: withId,
      expect: 'refuse',
    };
  },
  (random) => {
    const [label, body] = choose(random, INVALID_BODIES);
    const resource = JSON.parse(body) as Record<string, unknown>;
    const type = typeof resource.resourceType === 'string' ? resource.resourceType : 'Patient';
    const kind = random() < 0.5 ? 'transaction' : 'batch';
    const bundle = {
      resourceType: 'Bundle',
      type: kind,
      entry: [
        { fullUrl: `urn:uuid:${uuid(random)}`, resource: patient(), request: { method: 'POST', url: 'Patient' } },
        { resource, request: { method: 'POST', url: type } },
      ],
    };
    // A batch may accept its valid entry; only the invalid entry must not be stored (checked by the store scan).
    return {
      label: `${kind} with invalid entry ${label}`,
      method: 'POST',
      path: '',
      headers: JSON_TYPE,
      body: JSON.stringify(bundle),
      expect: kind === 'transaction' ? 'refuse' : 'any',
    };
  },
  // Bad ids, directly and in transactions.
  (random) => {
    const id = choose(random, BAD_IDS);
    return {
      label: `PUT bad id ${JSON.stringify(id.slice(0, 12))}`,
      method: 'PUT',
      path: `Patient/${encodeURIComponent(id)}`,
      headers: JSON_TYPE,
      body: JSON.stringify(patient({ id })),
      expect: 'refuse',
    };
  },
  (random) => {
    const id = choose(
      random,
      BAD_IDS.filter((i) => i !== '')
    );
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [{ resource: patient({ id }), request: { method: 'PUT', url: `Patient/${id}` } }],
    };
    return {
      label: `transaction bad id ${JSON.stringify(id.slice(0, 12))}`,
      method: 'POST',
      path: '',
      headers: JSON_TYPE,
      body: JSON.stringify(bundle),
      expect: 'refuse',
    };
  },
  // ETags.
  (random, n) => {
    const value = choose(random, ['1', 'W/1', '"', 'W/"', '*', 'W/"1", W/"2"', 'abc', 'W/"a b"']);
    return {
      label: `If-Match ${value}`,
      method: 'PUT',
      path: `Patient/fuzz-etag-${n}`,
      headers: { ...JSON_TYPE, 'If-Match': value },
      body: JSON.stringify(patient({ id: `fuzz-etag-${n}` })),
      expect: 'refuse',
    };
  },
  // Transaction rules (FHIR R4 http.html#trules).
  (random) => {
    const url = `urn:uuid:${uuid(random)}`;
    const variants: [string, unknown[]][] = [
      [
        'duplicate fullUrl',
        [
          { fullUrl: url, resource: patient(), request: { method: 'POST', url: 'Patient' } },
          { fullUrl: url, resource: patient(), request: { method: 'POST', url: 'Patient' } },
        ],
      ],
      [
        'unresolved urn:uuid',
        [
          {
            fullUrl: url,
            resource: observation({ subject: { reference: `urn:uuid:${uuid(random)}` } }),
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      ],
      [
        'conditional reference without match',
        [
          {
            resource: observation({ subject: { reference: 'Patient?identifier=urn:none|none' } }),
            request: { method: 'POST', url: 'Observation' },
          },
        ],
      ],
      [
        'nested transaction',
        [
          {
            resource: {
              resourceType: 'Bundle',
              type: 'transaction',
              entry: [{ resource: patient(), request: { method: 'POST', url: 'Patient' } }],
            },
            request: { method: 'POST', url: '/' },
          },
        ],
      ],
      [
        'entry to Bundle',
        [{ resource: { resourceType: 'Bundle', type: 'collection' }, request: { method: 'POST', url: 'Bundle' } }],
      ],
      [
        'same resource twice',
        [
          { resource: patient({ id: 'fuzz-twice' }), request: { method: 'PUT', url: 'Patient/fuzz-twice' } },
          {
            resource: patient({ id: 'fuzz-twice', active: true }),
            request: { method: 'PUT', url: 'Patient/fuzz-twice' },
          },
        ],
      ],
    ];
    const [label, entry] = choose(random, variants);
    return {
      label: `transaction ${label}`,
      method: 'POST',
      path: '',
      headers: JSON_TYPE,
      body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry }),
      expect: 'refuse',
    };
  },
  // Malformed Bundles.
  (random) => {
    const variants: [string, string][] = [
      ['entry:[null]', '{"resourceType":"Bundle","type":"transaction","entry":[null]}'],
      ['entry:[1]', '{"resourceType":"Bundle","type":"batch","entry":[1]}'],
      ['entry:{}', '{"resourceType":"Bundle","type":"transaction","entry":{}}'],
      [
        'entry without request',
        '{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient"}}]}',
      ],
      ['request.url:5', '{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":5}}]}'],
      ['type:searchset', '{"resourceType":"Bundle","type":"searchset"}'],
      ['not a Bundle', JSON.stringify(patient())],
      [
        'too many entries',
        JSON.stringify({
          resourceType: 'Bundle',
          type: 'batch',
          entry: Array.from({ length: 20_001 }, () => ({ request: { method: 'GET', url: 'Patient/x' } })),
        }),
      ],
    ];
    const [label, body] = choose(random, variants);
    return { label: `Bundle ${label}`, method: 'POST', path: '', headers: JSON_TYPE, body, expect: 'refuse' };
  },
  // Paging and search parameters.
  (random) => {
    const query = choose(random, [
      '_count=abc',
      '_count=',
      '_count=-1',
      '_count=1e3',
      '_count=99999999999',
      '_offset=99999999999999999999',
      '_offset=-5',
      '_offset=abc',
      `code=${Array.from({ length: 500 }, (_, i) => i).join(',')}`,
      `code=${Array.from({ length: 100 }, (_, i) => i).join(',')}`,
      '_sort=nonsense',
      '_sort=-_lastUpdated,date',
      'date=2024-02-30',
      'date=notadate',
      'value-quantity=abc',
      'subject:Patient.name=x',
      '_has:Observation:subject:status=final',
      '_summary=maybe',
      '_summary=true',
      '_summary=count',
      '_elements=status,code',
      '_elements=1bad',
      '_total=accurate',
      '_total=whatever',
      '_include=Observation:subject',
      '_include=Nope:nope',
      '_revinclude=Observation:subject',
      'code:in=http://x',
      'status=%zz',
      '_format=xml',
      '_format=json',
      '_cursor=abc',
      'unknownparam=1',
    ]);
    const type = choose(random, ['Observation', 'Patient']);
    return { label: `GET ${type}?${query.slice(0, 40)}`, method: 'GET', path: `${type}?${query}`, expect: 'any' };
  },
  // Paths and operations.
  (random) => {
    const [method, path] = choose(random, [
      ['GET', '$foo'],
      ['POST', '$graphql'],
      ['GET', 'Patient/$everything'],
      ['GET', 'Patient/fuzz-p1/$everything'],
      ['GET', 'Patient/fuzz-p1/$twin-refresh'],
      ['GET', 'Patient/_history'],
      ['GET', 'Patient/_history?_since=2024-02-30T00:00:00Z'],
      ['GET', 'Patient/_history?_count=2'],
      ['GET', 'Patient/fuzz-p1/_history/abc'],
      ['GET', 'Patient/fuzz-p1/_history?_since=x'],
      ['GET', 'Patient/fuzz-p1/_history?_at=2024'],
      ['GET', 'Patient?_revinclude=*'],
      ['GET', 'Patient?_sort='],
      ['GET', 'Patient?_lastUpdated=gt2024-02-30'],
      ['GET', 'Patient/fuzz-p1/_history/99999999999999999999'],
      ['GET', 'Nope/1'],
      ['GET', 'Patient/%zz'],
      ['GET', '%zz'],
      ['GET', '$export-status/%zz'],
      ['GET', '$export-file/%zz/Patient.ndjson'],
      ['GET', 'Group/%zz/$export'],
      ['GET', 'Patient/$export?_since=2024-02-30T00:00:00Z'],
      ['GET', 'Patient/$export?_type=Nope'],
      ['GET', 'Patient/a/b/c/d/e'],
      ['DELETE', 'Patient'],
      ['DELETE', 'Patient/does-not-exist'],
      ['PATCH', 'Patient/fuzz-p1'],
      ['GET', 'metadata'],
      ['GET', ''],
    ] as const);
    const headers: Record<string, string> = path.includes('$export')
      ? { Accept: 'application/fhir+json', Prefer: 'respond-async' }
      : {};
    return { label: `${method} ${path}`, method, path, headers, expect: 'any' };
  },
  // Bodies and headers that lie.
  (random) => {
    const variants: [string, Record<string, string>, string | Buffer][] = [
      ['gzip header, plain body', { ...JSON_TYPE, 'Content-Encoding': 'gzip' }, JSON.stringify(patient())],
      ['gzip body', { ...JSON_TYPE, 'Content-Encoding': 'gzip' }, gzipSync(JSON.stringify(patient()))],
      ['br header', { ...JSON_TYPE, 'Content-Encoding': 'br' }, JSON.stringify(patient())],
      ['10k-deep JSON', JSON_TYPE, deepJson(10_000)],
      ['200-deep JSON', JSON_TYPE, deepJson(200)],
      ['truncated JSON', JSON_TYPE, JSON.stringify(patient()).slice(0, 20)],
      ['JSON number', JSON_TYPE, '42'],
      ['JSON array', JSON_TYPE, '[]'],
      ['empty body', JSON_TYPE, ''],
      ['XML body', { 'Content-Type': 'application/fhir+xml' }, '<Patient xmlns="http://hl7.org/fhir"/>'],
      ['charset latin1', { 'Content-Type': 'application/fhir+json; charset=latin1' }, JSON.stringify(patient())],
      ['huge string', JSON_TYPE, JSON.stringify(patient({ name: [{ family: 'x'.repeat(200_000) }] }))],
    ];
    const [label, headers, body] = choose(random, variants);
    return { label: `POST Patient ${label}`, method: 'POST', path: 'Patient', headers, body, expect: 'any' };
  },
  // Operations with bad input.
  (random) => {
    const body = choose(random, [
      JSON.stringify(patient()),
      JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'nope', valueString: 'x' }] }),
      JSON.stringify({ resourceType: 'Parameters', parameter: 'x' }),
      deepJson(100_000),
      '[]',
    ]);
    return {
      label: `POST $twin-refresh bad input`,
      method: 'POST',
      path: 'Patient/fuzz-p1/$twin-refresh',
      headers: JSON_TYPE,
      body,
      expect: 'refuse',
    };
  },
  // JSON Patch that walks into prototypes or into primitives.
  (random) => {
    const patch = choose(random, [
      [{ op: 'add', path: '/__proto__/polluted', value: 1 }],
      [{ op: 'add', path: '/constructor/prototype/polluted', value: 1 }],
      [{ op: 'add', path: '/constructor', value: {} }],
      [{ op: 'add', path: '/birthDate/x', value: 1 }],
      [{ op: 'move', from: '/__proto__', path: '/x' }],
      [{ op: 'add', path: '/name', value: [1] }],
      [{ op: 'replace', path: '/id', value: 'other' }],
      [{ op: 'nope' }],
    ]);
    return {
      label: `PATCH ${JSON.stringify(patch).slice(0, 50)}`,
      method: 'PATCH',
      path: 'Patient/fuzz-p1',
      headers: { 'Content-Type': 'application/json-patch+json' },
      body: JSON.stringify(patch),
      expect: 'refuse',
    };
  },
  // Accept headers.
  (random) => {
    const accept = choose(random, [
      'application/fhir+xml',
      'application/xml',
      'text/html',
      'application/fhir+json;q=0',
      '*/*',
      'application/json',
    ]);
    return {
      label: `GET with Accept ${accept}`,
      method: 'GET',
      path: 'Patient/fuzz-p1',
      headers: { Accept: accept },
      expect: 'any',
    };
  },
  // Valid traffic, so the server is exercised with work it must do.
  (random, n) => {
    const kind = choose(random, ['create', 'update', 'read', 'search', 'transaction']);
    switch (kind) {
      case 'create':
        return {
          label: 'valid create',
          method: 'POST',
          path: 'Observation',
          headers: JSON_TYPE,
          body: JSON.stringify(observation()),
          expect: 'any',
        };
      case 'update':
        return {
          label: 'valid update',
          method: 'PUT',
          path: `Patient/fuzz-ok-${n % 7}`,
          headers: JSON_TYPE,
          body: JSON.stringify(patient({ id: `fuzz-ok-${n % 7}`, active: random() < 0.5 })),
          expect: 'any',
        };
      case 'read':
        return { label: 'valid read', method: 'GET', path: 'Patient/fuzz-p1', expect: 'any' };
      case 'search':
        return {
          label: 'valid search',
          method: 'GET',
          path: 'Observation?subject=Patient/fuzz-p1&_count=5',
          expect: 'any',
        };
      default: {
        const url = `urn:uuid:${uuid(random)}`;
        return {
          label: 'valid transaction',
          method: 'POST',
          path: '',
          headers: JSON_TYPE,
          body: JSON.stringify({
            resourceType: 'Bundle',
            type: 'transaction',
            entry: [
              { fullUrl: url, resource: patient(), request: { method: 'POST', url: 'Patient' } },
              {
                resource: observation({ subject: { reference: url } }),
                request: { method: 'POST', url: 'Observation' },
              },
            ],
          }),
          expect: 'any',
        };
      }
    }
  },
];

/** `count` requests from the seed; the first few create the resources the others refer to. */
export function fuzzCases(seed: number, count: number): FuzzCase[] {
  const random = seededRandom(seed);
  const cases: FuzzCase[] = [
    {
      label: 'setup patient',
      method: 'PUT',
      path: 'Patient/fuzz-p1',
      headers: JSON_TYPE,
      body: JSON.stringify(patient({ id: 'fuzz-p1' })),
      expect: 'any',
    },
  ];
  for (let n = cases.length; n < count; n++) {
    cases.push(choose(random, GENERATORS)(random, n));
  }
  return cases;
}

/** Sends the cases one after the other to `baseUrl` (loopback) and tallies what came back. */
export async function runFuzz(baseUrl: string, cases: readonly FuzzCase[]): Promise<FuzzResult> {
  if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+\//.test(`${baseUrl}/`)) {
    throw new Error('The fuzz runs against a loopback server only');
  }
  const byStatus: Record<string, number> = {};
  const serverErrorSamples: string[] = [];
  const acceptedInvalidSamples: string[] = [];
  let serverErrors = 0;
  let acceptedInvalid = 0;
  for (const c of cases) {
    let status: number;
    try {
      const response = await fetch(`${baseUrl}/${c.path}`, {
        method: c.method,
        headers: c.headers ?? {},
        ...(c.body !== undefined ? { body: c.body } : {}),
      });
      status = response.status;
      await response.arrayBuffer();
    } catch {
      status = 0; // no answer at all: as bad as a 500
    }
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (status >= 500 || status === 0) {
      serverErrors++;
      if (serverErrorSamples.length < 20) {
        serverErrorSamples.push(`${status} ${c.label}`);
      }
    }
    if (c.expect === 'refuse' && status >= 200 && status < 300) {
      acceptedInvalid++;
      if (acceptedInvalidSamples.length < 20) {
        acceptedInvalidSamples.push(`${status} ${c.label}`);
      }
    }
  }
  return {
    requests: cases.length,
    serverErrors,
    serverErrorSamples,
    acceptedInvalid,
    acceptedInvalidSamples,
    byStatus,
  };
}

/**
 * Every version ever stored (current and history) that the validator refuses, read straight from the SQLite file:
 * what a client could get back that the base specification and the claimed profiles do not allow.
 */
export function invalidStoredVersions(databasePath: string, validator: ResourceValidator): string[] {
  const db = new DatabaseSync(databasePath, { readOnly: true });
  try {
    const rows = db.prepare('SELECT content FROM history WHERE content IS NOT NULL').all() as { content: string }[];
    const invalid: string[] = [];
    for (const row of rows) {
      const resource = JSON.parse(row.content) as Resource;
      try {
        validator.validate(resource);
      } catch {
        invalid.push(`${resource.resourceType}/${String(resource.id).slice(0, 40)}`);
      }
    }
    return invalid;
  } finally {
    db.close();
  }
}
