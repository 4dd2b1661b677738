// The chain of custody document on its own: valid PREMIS 2.3 (xmllint against the schema) for
// ordinary and hostile step details, a step whose build the workflow never learnt, and
// characters XML cannot carry, which are shown, never allowed to fail a confirmation.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { REPO_ROOT } from '../config/config';
import { buildChainOfCustody } from '../sip/premis';

const SCHEMAS = path.join(REPO_ROOT, 'reference-service', 'schemas');

function validate(xml: Buffer): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-chain-'));
  try {
    const file = path.join(dir, 'chain.xml');
    fs.writeFileSync(file, xml);
    const run = spawnSync('xmllint', ['--noout', '--nonet', '--schema', path.join(SCHEMAS, 'premis-v2-3.xsd'), file], {
      encoding: 'utf8',
      env: { ...process.env, XML_CATALOG_FILES: path.join(SCHEMAS, 'catalog.xml') },
    });
    assert.equal(run.status, 0, `xmllint: ${run.stderr}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface Parsed {
  premis: {
    event: Array<{ eventType: string; eventDetail?: string; linkingAgentIdentifier: { linkingAgentIdentifierValue: string } }>;
    agent: Array<{ agentIdentifier: { agentIdentifierValue: string }; agentName: string }>;
  };
}
const parse = (xml: Buffer) =>
  new XMLParser({ removeNSPrefix: true, isArray: (name) => ['event', 'agent'].includes(name) }).parse(xml.toString('utf8')) as Parsed;

describe('chain of custody (PREMIS 2.3)', function () {
  before(function () {
    if (spawnSync('xmllint', ['--version']).status !== 0)
      throw new Error("xmllint is missing: install Debian's libxml2-utils, or run scripts/install-test-tools.sh");
  });

  it('validates, keeps the steps in order with their builds, and one agent per build', () => {
    const xml = buildChainOfCustody({
      objectId: 'mus-0001',
      sipId: 'mus-0001.a2.0badf00d',
      steps: [
        { stage: 'queued', at: '2026-11-30T10:00:00.000Z', buildId: '0.1.0+aaaa' },
        { stage: 'frozen', at: '2026-11-30T10:00:01.000Z', buildId: '0.1.0+aaaa', detail: 'frozen: <rights> & "donor" (by ops@host)' },
        { stage: 'downloading', at: '2026-11-30T10:00:02.000Z', buildId: '0.1.0+bbbb' },
        { stage: 'awaiting-verdict', at: '2026-11-30T10:00:03.000Z' },
        { stage: 'confirming', at: '2026-11-30T10:00:04.000Z', buildId: '0.1.0+bbbb', outcome: 'accepted' },
      ],
    });
    validate(xml);
    const { premis } = parse(xml);
    assert.deepEqual(
      premis.event.map((e) => [e.eventType, e.linkingAgentIdentifier.linkingAgentIdentifierValue]),
      [
        ['queued', '0.1.0+aaaa'],
        ['frozen', '0.1.0+aaaa'],
        ['downloading', '0.1.0+bbbb'],
        ['awaiting-verdict', 'unknown'],
        ['confirming', '0.1.0+bbbb'],
      ],
    );
    assert.equal(premis.event[1].eventDetail, 'frozen: <rights> & "donor" (by ops@host)', 'text, not markup');
    assert.deepEqual(
      premis.agent.map((a) => [a.agentIdentifier.agentIdentifierValue, a.agentName]),
      [
        ['0.1.0+aaaa', 'custody (build 0.1.0+aaaa)'],
        ['0.1.0+bbbb', 'custody (build 0.1.0+bbbb)'],
        ['unknown', 'custody (build not recorded)'],
      ],
    );
  });

  it('shows a character XML cannot carry (an escape in a freeze reason, in a build id) as its code instead of failing', () => {
    const xml = buildChainOfCustody({
      objectId: 'mus-0002',
      sipId: 'mus-0002.a1.00000001',
      steps: [{ stage: 'frozen', at: '2026-11-30T10:00:00.000Z', buildId: 'ci\u0007build', detail: 'frozen: a\u001b[2Jb\u0000' }],
    });
    validate(xml);
    const text = xml.toString('utf8');
    assert.ok(text.includes('frozen: a\\u{1b}[2Jb\\u{0}'), text);
    assert.ok(text.includes('ci\\u{7}build'), text);
  });
});
