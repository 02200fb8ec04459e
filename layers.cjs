// The one-way house: every folder of src/ and the layer it belongs to. A folder may import only folders of a LOWER
// rank (and itself); folders that share a rank are siblings and may not import each other. This table is the single
// source of truth: .dependency-cruiser.cjs turns it into rules (checked by `npm run lint`), and docs/LAYERS.md
// explains it. Adding a folder to src/ without a row here fails the check (rule `layer-unknown-folder`).
'use strict';

/** @type {ReadonlyArray<{ folder: string, rank: number, layer: 'ground' | 'stage' | 'door', what: string }>} */
const LAYERS = [
  // ground: no stage, no door; the store knows no twin
  { folder: 'calendar', rank: 0, layer: 'ground', what: 'calendar days and day arithmetic' },
  {
    folder: 'fhir',
    rank: 1,
    layer: 'ground',
    what: 'FhirClient contract and clients, definitions, validation, metric catalogue, UCUM, canonical URLs and codes, outcomes, Bulk Data formats',
  },
  { folder: 'policy', rank: 2, layer: 'ground', what: 'consent and AI-transparency labels' },
  { folder: 'store', rank: 3, layer: 'ground', what: 'the durable FHIR repository (node:sqlite)' },
  { folder: 'deliver', rank: 4, layer: 'ground', what: 'write plans and the one validated, conditional write-back' },
  {
    folder: 'auth',
    rank: 5,
    layer: 'ground',
    what: 'SMART scopes, signing keys, JWT verification, the FHIR access guard, patient compartment, HTTP hardening',
  },
  {
    folder: 'ops',
    rank: 6,
    layer: 'ground',
    what: 'operating the engine service: its configuration file (config/twin.schema.json, ajv) and the metrics interface doors record into (no prom-client here)',
  },
  // stages: a stage imports only the ground and stages to its left
  {
    folder: 'protocols',
    rank: 9,
    layer: 'stage',
    what: 'the recovery-protocol library (PlanDefinitions, ActivityDefinitions from fhir-profiles/protocols/)',
  },
  {
    folder: 'ingest',
    rank: 10,
    layer: 'stage',
    what: 'importers (wearable and self-report files), Bulk Data client, watermarks',
  },
  { folder: 'cohort', rank: 11, layer: 'stage', what: 'the deterministic synthetic cohort (a data source)' },
  {
    folder: 'twin',
    rank: 12,
    layer: 'stage',
    what: 'normalise, daily series, baselines, recovery state; the refresh and its event/poll/bulk triggers',
  },
  { folder: 'detect', rank: 13, layer: 'stage', what: 'early-warning detectors and findings' },
  { folder: 'evidence', rank: 13, layer: 'stage', what: 'note concepts, retrieval, protocol matching' },
  { folder: 'simulate', rank: 13, layer: 'stage', what: 'personalised recovery simulation' },
  { folder: 'proposal', rank: 14, layer: 'stage', what: 'care-plan proposals' },
  { folder: 'review', rank: 15, layer: 'stage', what: 'the clinician review state machines' },
  {
    folder: 'withdrawal',
    rank: 16,
    layer: 'stage',
    what: "withdrawal of the engine's outputs for a patient whose Consent denies processing (twin, findings, proposals, review Tasks)",
  },
  // doors: thin, assemble stages and the world (client, clock, seed, configuration)
  {
    folder: 'authServer',
    rank: 19,
    layer: 'door',
    what: 'the local SMART authorization server (discovery, authorize, token, JWKS, introspection, EHR-launch simulator)',
  },
  { folder: 'cdsHooks', rank: 19, layer: 'door', what: 'CDS Hooks 2.0 discovery, patient-view service, feedback' },
  {
    folder: 'automation',
    rank: 17,
    layer: 'door',
    what: 'scheduled automation (node-cron): refresh and detection, stale data, recovery plateau follow-up Tasks',
  },
  {
    folder: 'queue',
    rank: 18,
    layer: 'door',
    what: 'scale-out job queue (BullMQ on REDIS_URL, in-process without it): events and scheduled work as jobs',
  },
  {
    folder: 'server',
    rank: 20,
    layer: 'door',
    what: 'embedded FHIR R4 server, operations, Bulk export server, mount point',
  },
  { folder: 'cli', rank: 21, layer: 'door', what: 'the twin command line' },
];

module.exports = { LAYERS };
