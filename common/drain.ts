// Drain and resume (`custody drain`, `custody resume`): the signals a running pipeline takes.
// Drained, a workflow starts no new step; the step under way finishes. No Node imports.
import { defineSignal } from '@temporalio/workflow';

export interface DrainRequest {
  by: string;
  reason: string;
}
export const drainSignal = defineSignal<[DrainRequest]>('drain');
export const resumeSignal = defineSignal<[{ by: string }]>('resume');

/** The workflows that take the drain and resume signals (each installs them with its operator handlers). */
export const DRAINABLE_WORKFLOW_TYPES = ['preserveObject', 'publishArticle', 'copyDataset'] as const;
