// PREMIS 2.3 as custody writes it: the events and agents inside a SIP's METS, and the chain of
// custody document written beside the service's report after a confirmed preservation. One
// writer for both, so the two cannot drift apart.
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces';
import type { CustodyStep } from '../common/preservation';

export const PREMIS_NS = 'info:lc/xmlns/premis-v2';
export const PREMIS_SCHEMA = 'http://www.loc.gov/standards/premis/v2/premis-v2-3.xsd';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';

/** premis:<kind>Identifier with its Type and Value children; returns the identifier element. */
export function premisIdentifier(parent: XMLBuilder, kind: string, type: string, value: string): XMLBuilder {
  const id = parent.ele(PREMIS_NS, `premis:${kind}Identifier`);
  id.ele(PREMIS_NS, `premis:${kind}IdentifierType`).txt(type);
  id.ele(PREMIS_NS, `premis:${kind}IdentifierValue`).txt(value);
  return id;
}

export interface PremisEvent {
  id: string;
  type: string;
  dateTime: string;
  detail?: string;
  outcome: string;
  /** The executing program. */
  agent: { type: string; value: string };
  /** Objects the event acted on. */
  objects?: Array<{ type: string; value: string }>;
}

/** A premis:event (PREMIS 2.3 element order) under `parent`. */
export function addPremisEvent(parent: XMLBuilder, e: PremisEvent): XMLBuilder {
  const event = parent.ele(PREMIS_NS, 'premis:event', { version: '2.3' });
  premisIdentifier(event, 'event', 'local', e.id);
  event.ele(PREMIS_NS, 'premis:eventType').txt(e.type);
  event.ele(PREMIS_NS, 'premis:eventDateTime').txt(e.dateTime);
  if (e.detail !== undefined) event.ele(PREMIS_NS, 'premis:eventDetail').txt(e.detail);
  event.ele(PREMIS_NS, 'premis:eventOutcomeInformation').ele(PREMIS_NS, 'premis:eventOutcome').txt(e.outcome);
  premisIdentifier(event, 'linkingAgent', e.agent.type, e.agent.value).ele(PREMIS_NS, 'premis:linkingAgentRole').txt('executing program');
  for (const o of e.objects ?? []) premisIdentifier(event, 'linkingObject', o.type, o.value);
  return event;
}

/** A software premis:agent under `parent`. */
export function addPremisAgent(parent: XMLBuilder, a: { type: string; value: string; name: string }): XMLBuilder {
  const agent = parent.ele(PREMIS_NS, 'premis:agent', { version: '2.3' });
  premisIdentifier(agent, 'agent', a.type, a.value);
  agent.ele(PREMIS_NS, 'premis:agentName').txt(a.name);
  agent.ele(PREMIS_NS, 'premis:agentType').txt('software');
  return agent;
}

export interface ChainOfCustodyInput {
  objectId: string;
  sipId: string;
  steps: CustodyStep[];
}

/** The agent identifier type the chain uses: its value is the worker's build id. */
export const BUILD_AGENT_TYPE = 'custody build id';
const UNKNOWN_BUILD = 'unknown';

/**
 * A standalone PREMIS 2.3 document (validates against premis-v2-3.xsd): the SIP as a
 * representation, one event per step in order, one agent per build that ran a step.
 */
export function buildChainOfCustody({ objectId, sipId, steps }: ChainOfCustodyInput): Buffer {
  // A character XML cannot carry (an operator's freeze reason with an escape in it) is shown as
  // its code rather than refused: the record of a confirmed preservation must not fail on it.
  const doc = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: showNonXmlChar });
  const root = doc.ele(PREMIS_NS, 'premis:premis', {
    'xmlns:xsi': XSI_NS,
    'xsi:schemaLocation': `${PREMIS_NS} ${PREMIS_SCHEMA}`,
    version: '2.3',
  });
  const eventIds = steps.map((s, i) => `${sipId}:${String(i + 1).padStart(2, '0')}:${s.stage}`);
  const object = root.ele(PREMIS_NS, 'premis:object', { 'xsi:type': 'premis:representation', version: '2.3' });
  premisIdentifier(object, 'object', 'local', sipId);
  premisIdentifier(object, 'object', 'custody object id', objectId);
  for (const id of eventIds) premisIdentifier(object, 'linkingEvent', 'local', id);
  steps.forEach((s, i) =>
    addPremisEvent(root, {
      id: eventIds[i],
      type: s.stage,
      dateTime: s.at,
      detail: s.detail,
      outcome: s.outcome ?? 'success',
      agent: { type: BUILD_AGENT_TYPE, value: s.buildId ?? UNKNOWN_BUILD },
      objects: [{ type: 'local', value: sipId }],
    }),
  );
  for (const build of [...new Set(steps.map((s) => s.buildId ?? UNKNOWN_BUILD))])
    addPremisAgent(root, { type: BUILD_AGENT_TYPE, value: build, name: build === UNKNOWN_BUILD ? 'custody (build not recorded)' : `custody (build ${build})` });
  return Buffer.from(doc.end({ prettyPrint: true }), 'utf8');
}

function showNonXmlChar(char: string): string {
  return `\\u{${(char.codePointAt(0) ?? 0).toString(16)}}`;
}
