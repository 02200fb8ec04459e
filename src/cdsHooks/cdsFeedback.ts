import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** One feedback entry as recorded: which card, what the clinician did, when; never free text (it may name a patient). */
export interface FeedbackRecord {
  readonly service: string;
  readonly card: string;
  /** What the card was about: `finding` or `proposal` (and its Task). */
  readonly about: string;
  readonly outcome: 'accepted' | 'overridden';
  readonly acceptedSuggestions: readonly string[];
  /** The override reason's code, when the EHR sends one (CDS Hooks 2.0 "Override Reason"). */
  readonly overrideReason?: string;
  readonly outcomeTimestamp: string;
  readonly receivedAt: string;
}

export type FeedbackRecorder = (record: FeedbackRecord) => void;

/** Appends each record as one JSON line to `file` (in the data directory). */
export function jsonlFeedbackRecorder(file: string): FeedbackRecorder {
  mkdirSync(dirname(file), { recursive: true });
  return (record: FeedbackRecord): void => {
    appendFileSync(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  };
}
