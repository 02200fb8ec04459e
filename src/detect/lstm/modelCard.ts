import { OperationOutcomeError } from '@medplum/core';
import type { OperationOutcome } from '@medplum/fhirtypes';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../../fhir/packageRoot';
import { LSTM_FEATURES } from './featureWindows';

/**
 * The model card of the learned detector (models/lstm-detector/model-card.json, written by train.py). The engine
 * refuses to start the detector unless the ONNX file's sha256 equals the card's (MODEL_CARD.md: the engine checks the
 * model's sha256 against its card and refuses a mismatched file with a clear error) and the card's features and
 * window are the ones this engine computes.
 */
export interface LstmModelCard {
  readonly name: string;
  readonly version: string;
  readonly file: string;
  readonly sha256: string;
  readonly window: number;
  readonly features: readonly string[];
  /** What the model is for (the card's `intendedUse`): the model Device's note repeats it. */
  readonly intendedUse: string;
  /** The data it was trained on, each with its licence (the card's `training.data`). */
  readonly trainingData: readonly LstmTrainingData[];
}

export interface LstmTrainingData {
  readonly source: string;
  readonly licence: string;
}

/** A verified model: its card, and the absolute path of the ONNX file whose bytes matched. */
export interface VerifiedLstmModel {
  readonly card: LstmModelCard;
  readonly modelPath: string;
  /** The bytes that were hashed: workers load these, never the file again. */
  readonly bytes: Uint8Array;
}

export const DEFAULT_LSTM_MODEL_DIR = (): string => join(packageRoot(), 'models', 'lstm-detector');

function refuse(text: string, code: 'not-found' | 'invalid' | 'processing'): OperationOutcomeError {
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code, details: { text } }],
  };
  return new OperationOutcomeError(outcome);
}

function parseCard(text: string, where: string): LstmModelCard {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw refuse(`LSTM model card ${where} is not valid JSON`, 'invalid');
  }
  const o = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const problems: string[] = [];
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string' || v === '') {
      problems.push(`'${k}' must be a non-empty string`);
      return '';
    }
    return v;
  };
  const name = str('name');
  const version = str('version');
  const file = str('file');
  const sha256 = str('sha256').toLowerCase();
  if (sha256 && !/^[0-9a-f]{64}$/.test(sha256)) {
    problems.push(`'sha256' must be 64 hex digits`);
  }
  const window = o.window;
  if (typeof window !== 'number' || !Number.isInteger(window) || window < 2) {
    problems.push(`'window' must be an integer >= 2`);
  }
  const features = o.features;
  if (!Array.isArray(features) || !features.every((f) => typeof f === 'string')) {
    problems.push(`'features' must be a list of feature names`);
  }
  const intendedUse = str('intendedUse');
  const trainingData = parseTrainingData(o.training, problems);
  if (problems.length > 0) {
    throw refuse(`LSTM model card ${where} is invalid: ${problems.join('; ')}`, 'invalid');
  }
  return {
    name,
    version,
    file,
    sha256,
    window: window as number,
    features: features as string[],
    intendedUse,
    trainingData,
  };
}

/** `training.data`: a non-empty list of {source, licence}; a model Device must say what its model learned from. */
function parseTrainingData(training: unknown, problems: string[]): LstmTrainingData[] {
  const data =
    typeof training === 'object' && training !== null ? (training as Record<string, unknown>).data : undefined;
  const ok =
    Array.isArray(data) &&
    data.length > 0 &&
    data.every(
      (d: unknown) =>
        typeof d === 'object' &&
        d !== null &&
        typeof (d as Record<string, unknown>).source === 'string' &&
        typeof (d as Record<string, unknown>).licence === 'string'
    );
  if (!ok) {
    problems.push(`'training.data' must be a non-empty list of {source, licence}`);
    return [];
  }
  return (data as LstmTrainingData[]).map((d) => ({ source: d.source, licence: d.licence }));
}

/**
 * Loads `<dir>/model-card.json`, hashes the ONNX file it names and checks hash, features and window. Throws an
 * OperationOutcomeError naming the file and what is wrong (missing, unreadable, hash mismatch, other features).
 */
export async function loadVerifiedModel(dir: string = DEFAULT_LSTM_MODEL_DIR()): Promise<VerifiedLstmModel> {
  const cardPath = join(dir, 'model-card.json');
  let cardText: string;
  try {
    cardText = await readFile(cardPath, 'utf8');
  } catch {
    throw refuse(`LSTM model card not found at ${cardPath}`, 'not-found');
  }
  const card = parseCard(cardText, cardPath);
  const modelPath = join(dir, card.file);
  let bytes: Buffer;
  try {
    bytes = await readFile(modelPath);
  } catch {
    throw refuse(`LSTM model file ${modelPath} (named by its model card) not found`, 'not-found');
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== card.sha256) {
    throw refuse(
      `LSTM model file ${modelPath} does not match its model card: sha256 ${actual}, card says ${card.sha256} ` +
        `(version ${card.version}). The file is corrupted or was replaced; refusing to use it.`,
      'processing'
    );
  }
  const expected = LSTM_FEATURES.map((f) => f.name);
  if (card.features.length !== expected.length || card.features.some((f, i) => f !== expected[i])) {
    throw refuse(
      `LSTM model card ${cardPath} lists features [${card.features.join(', ')}] but this engine computes ` +
        `[${expected.join(', ')}]`,
      'processing'
    );
  }
  return { card, modelPath, bytes: new Uint8Array(bytes) };
}
