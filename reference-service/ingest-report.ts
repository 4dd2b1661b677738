// An ingest report as the national service writes them (dpres-xml-schemas' ingest_report.xsd,
// PREMIS 2.2): the transfer as a representation object, one event per stage the SIP went
// through with its outcome and reasons, the compiled validation event last, and the service as
// the agent of every event.
import crypto from 'node:crypto';
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces';
import type { CheckName, CheckResult } from './validate-sip';

const PREMIS = 'info:lc/xmlns/premis-v2';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';
export const SERVICE_AGENT = 'custody-reference-preservation-service';

/** The schema's eventType and eventDetail for each stage (both are closed lists there). */
const EVENTS: Record<CheckName | 'transfer' | 'compilation', { type: string; detail: string }> = {
  transfer: { type: 'transfer', detail: 'Transfer of submission information package' },
  unpacking: { type: 'unpacking', detail: 'Unpacking of submission information package' },
  fixity: { type: 'fixity check', detail: 'Fixity check of digital objects in submission information package' },
  'mets-schema': { type: 'validation', detail: 'METS schema validation' },
  'mets-features': { type: 'validation', detail: 'Additional METS validation of required features' },
  formats: { type: 'validation', detail: 'Digital object validation' },
  compilation: { type: 'validation', detail: 'Validation compilation of submission information package' },
};

export interface ReportInput {
  sipId: string;
  /** `<sipId>-<uuid>.tar`: the schema's form of a transfer id. */
  transferId: string;
  receivedAt: string;
  decidedAt: string;
  /** Stages run, in order; skipped stages get no event. A conflict has none: it was refused at transfer. */
  checks: CheckResult[];
  /** Set when the transfer itself was refused (a SIP id already taken by other bytes). */
  transferRefused?: string;
}

/** A character XML 1.0 cannot carry, as visible text. */
export const escapeNonXmlChar = (char: string): string => `\\u${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

/** A PREMIS <xIdentifier> with its <xIdentifierType> and <xIdentifierValue>. */
function identifier(parent: XMLBuilder, element: string, type: string, value: string): void {
  const id = parent.ele(PREMIS, element);
  id.ele(PREMIS, `${element}Type`).txt(type);
  id.ele(PREMIS, `${element}Value`).txt(value);
}

export function ingestReport(r: ReportInput): { xml: string; accepted: boolean } {
  // Reasons echo names from the SIP, which may hold characters XML cannot carry: those are
  // written as \uXXXX text, so the report stays well-formed whatever arrived.
  const doc = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: escapeNonXmlChar }).ele(PREMIS, 'premis', { version: '2.2' });
  doc.att('http://www.w3.org/2000/xmlns/', 'xmlns:xsi', XSI);
  const object = doc.ele(PREMIS, 'object').att(XSI, 'xsi:type', 'representation');
  identifier(object, 'objectIdentifier', 'preservation-transfer-id', r.transferId);
  object.ele(PREMIS, 'originalName').txt(`${r.sipId}.tar`);

  const event = (stage: keyof typeof EVENTS, at: string, reasons: string[], passed: string) => {
    const e = doc.ele(PREMIS, 'event');
    identifier(e, 'eventIdentifier', 'preservation-event-id', crypto.randomUUID());
    e.ele(PREMIS, 'eventType').txt(EVENTS[stage].type);
    e.ele(PREMIS, 'eventDateTime').txt(at);
    e.ele(PREMIS, 'eventDetail').txt(EVENTS[stage].detail);
    const outcome = e.ele(PREMIS, 'eventOutcomeInformation');
    outcome.ele(PREMIS, 'eventOutcome').txt(reasons.length ? 'failure' : 'success');
    outcome
      .ele(PREMIS, 'eventOutcomeDetail')
      .ele(PREMIS, 'eventOutcomeDetailNote')
      .txt(reasons.length ? reasons.join('\n') : passed);
    identifier(e, 'linkingAgentIdentifier', 'preservation-agent-id', SERVICE_AGENT);
    identifier(e, 'linkingObjectIdentifier', 'preservation-transfer-id', r.transferId);
  };

  event('transfer', r.receivedAt, r.transferRefused ? [r.transferRefused] : [], `${r.sipId}.tar was received.`);
  for (const c of r.checks) if (!c.skipped) event(c.check, r.decidedAt, c.reasons, 'No problems found.');
  const reasons = [...(r.transferRefused ? [r.transferRefused] : []), ...r.checks.flatMap((c) => c.reasons)];
  event(
    'compilation',
    r.decidedAt,
    reasons.length ? ['Submission information package was rejected:', ...reasons.map((x) => `- ${x}`)] : [],
    'Submission information package was accepted for preservation.',
  );

  const agent = doc.ele(PREMIS, 'agent');
  identifier(agent, 'agentIdentifier', 'preservation-agent-id', SERVICE_AGENT);
  agent.ele(PREMIS, 'agentName').txt('custody reference preservation service');
  agent.ele(PREMIS, 'agentType').txt('software');
  return { xml: doc.end({ prettyPrint: true }), accepted: reasons.length === 0 };
}
