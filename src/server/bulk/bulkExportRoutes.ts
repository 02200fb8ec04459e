import { allOk, notFound, OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { RESOURCE_MEDIA_TYPES } from '../bodyParsing';
import { sendFhirJson } from '../fhirResponse';
import { FHIR_NDJSON_CONTENT_TYPE, type BulkExportManifest } from '../../fhir/bulk/bulkManifest';
import type { BulkExportService } from './bulkExportService';
import { ExportThrottled } from './bulkExportService';
import {
  paramsFromParametersResource,
  paramsFromQuery,
  parseKickoff,
  requireRespondAsync,
  type ExportSpec,
  type KickoffParams,
} from './exportKickoff';
import type { ExportJobRecord } from './exportJobStore';
import { describeOutputs, RESOURCE_DESCRIPTIONS_EXTENSION } from './exportDescriptions';

/** Where status and files live, under the FHIR base (the IG leaves these URLs to the server). */
const STATUS_PATH = '/$export-status';
const FILE_PATH = '/$export-file';
const OUTPUT_FILE = /^[A-Z][A-Za-z]+\.ndjson$/;

/**
 * HTTP doors of the Bulk Data export (Bulk Data Access IG v2.0.0, export.html), mounted on the FHIR base:
 * - `GET|POST /Patient/$export`, `GET|POST /Group/:id/$export`: kick-off (export.html#bulk-data-kick-off-request)
 * - `GET /$export-status/:job`: status (export.html#bulk-data-status-request)
 * - `DELETE /$export-status/:job`: cancel/delete (export.html#bulk-data-delete-request)
 * - `GET /$export-file/:job/:Type.ndjson`: output file (export.html#bulk-data-output-file-request)
 * Errors go to the app's one error handler as OperationOutcomeErrors.
 */
export function bulkExportRoutes(service: BulkExportService, baseUrl: string): Router {
  const router = express.Router();
  // Only kick-off POSTs carry a body here: a Parameters resource.
  const parseBody = express.json({ type: [...RESOURCE_MEDIA_TYPES], limit: '1mb', strict: true });

  const kickoff = (level: ExportSpec['level']): RequestHandler =>
    handle(async (req, res) => {
      requireRespondAsync(req.get('Prefer'));
      const groupId = level === 'group' ? String(req.params.id) : undefined;
      // A POST without a body (MedplumClient's bulkExport() sends one, its parameters in the query string) is read
      // like a GET; a POST with a body takes its parameters from that Parameters resource only.
      const body: unknown = req.body;
      const emptyBody =
        body === undefined || (typeof body === 'object' && body !== null && Object.keys(body).length === 0);
      const params: KickoffParams =
        req.method === 'POST' && !emptyBody ? paramsFromParametersResource(body) : paramsFromQuery(req.query);
      const parsed = parseKickoff(level, groupId, params);
      // A patient-level token (src/auth/fhirAccessGuard.ts) exports its own patient's compartment and nothing else.
      const locals = res.locals as { confinedTo?: string; accessGrant?: unknown };
      const spec: ExportSpec = {
        ...parsed,
        ...(locals.confinedTo ? { patient: locals.confinedTo } : {}),
        ...(locals.accessGrant ? { filesNeedToken: true } : {}),
      };
      // export.html#response---complete-status `request`: "In the case of a POST request, this URL will not include
      // the request parameters".
      const request = `${baseUrl}${req.method === 'POST' ? req.path : req.url}`;
      let record: ExportJobRecord;
      try {
        record = await service.kickOff(spec, request);
      } catch (err) {
        if (err instanceof ExportThrottled) {
          res.set('Retry-After', String(err.retryAfterSeconds));
        }
        throw err;
      }
      // export.html#response---success: 202 Accepted with Content-Location, optionally an OperationOutcome.
      res.set('Content-Location', `${baseUrl}${STATUS_PATH}/${record.id}`);
      sendFhirJson(res, 202, information(`Export ${record.id} started`));
    });

  router.get('/Patient/\\$export', kickoff('patient'));
  router.post('/Patient/\\$export', parseBody, kickoff('patient'));
  router.get('/Group/:id/\\$export', kickoff('group'));
  router.post('/Group/:id/\\$export', parseBody, kickoff('group'));

  router.get(
    `/${escape(STATUS_PATH)}/:job`,
    handle(async (req, res) => {
      const view = service.status(String(req.params.job));
      if (!view) {
        throw new OperationOutcomeError(notFound);
      }
      switch (view.status) {
        case 'in-progress':
          // export.html#response---in-progress-status
          res.set('X-Progress', view.progress.slice(0, 99)).set('Retry-After', String(view.retryAfterSeconds));
          res.status(202).end();
          return;
        case 'failed':
          // export.html#response---error-status-1: 5XX with an OperationOutcome. Sent here, not through the error
          // handler, which replaces every 5xx body by a generic one; this text is our own and names no content.
          sendFhirJson(res, 500, {
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'error', code: 'processing', details: { text: view.failure } }],
          });
          return;
        case 'completed':
          // export.html#response---complete-status: 200, application/json, the manifest.
          res
            .status(200)
            .type('application/json')
            .send(JSON.stringify(manifest(view.record, baseUrl)));
          return;
      }
    })
  );

  router.delete(
    `/${escape(STATUS_PATH)}/:job`,
    handle(async (req, res) => {
      if (!(await service.delete(String(req.params.job)))) {
        throw new OperationOutcomeError(notFound);
      }
      // export.html#bulk-data-delete-request: 202 Accepted; later polls get 404.
      sendFhirJson(res, 202, information('Export deleted'));
    })
  );

  router.get(
    `/${escape(FILE_PATH)}/:job/:file`,
    handle(async (req, res) => {
      const file = String(req.params.file);
      const path = OUTPUT_FILE.test(file) ? service.outputFilePath(String(req.params.job), file) : undefined;
      if (!path) {
        throw new OperationOutcomeError(notFound);
      }
      // export.html#bulk-data-output-file-request: "For files in ndjson format, SHALL be application/fhir+ndjson".
      res.status(200).set('Content-Type', FHIR_NDJSON_CONTENT_TYPE);
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      // A sealed file (encrypted store) is opened chunk by chunk as it is sent; the client gets plain NDJSON.
      const unseal = service.exportFiles?.unsealer();
      await (unseal ? pipeline(createReadStream(path), unseal, res) : pipeline(createReadStream(path), res));
    })
  );

  return router;
}

/** The complete-status body; file URLs are built now, so they follow the server to a new port after a restart. */
export function manifest(record: ExportJobRecord, baseUrl: string): BulkExportManifest {
  return {
    transactionTime: record.transactionTime,
    request: record.request,
    // export.html, requiresAccessToken: true when the files sit behind the same access guard as the kick-off (the
    // guard answers them only for the token's client and patient); false on an open server.
    requiresAccessToken: record.spec.filesNeedToken === true,
    output: record.output.map((o) => ({
      type: o.type,
      url: `${baseUrl}${FILE_PATH}/${record.id}/${o.file}`,
      count: o.count,
    })),
    error: [],
    // export.html#response---complete-status: "extension ... reserved ... allowing server implementations to use it
    // to provide custom behavior and information". Clients that do not know it ignore it.
    extension: { [RESOURCE_DESCRIPTIONS_EXTENSION]: describeOutputs(record.output.map((o) => o.type)) },
  };
}

function information(text: string): OperationOutcome {
  return { ...allOk, issue: [{ severity: 'information', code: 'informational', details: { text } }] };
}

/** `$` is literal in these paths; path-to-regexp needs it escaped. */
function escape(path: string): string {
  return path.slice(1).replace('$', '\\$');
}

function handle(fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch(next);
  };
}
