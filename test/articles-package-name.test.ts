import assert from 'node:assert/strict';
import {
  DEFAULT_PACKAGE_NAME_PATTERN,
  PackageNamePatternInvalid,
  PackageNameRefused,
  compilePackageNamePattern,
  formatPackageName,
  parsePackageName,
  type PackageNameRefusalKind,
} from '../articles/package-name';

function refused(key: string, kind: PackageNameRefusalKind, mentions: RegExp = /./, options = {}) {
  assert.throws(
    () => parsePackageName(key, options),
    (err: unknown) => {
      assert.ok(err instanceof PackageNameRefused, `expected PackageNameRefused, got ${String(err)}`);
      assert.equal(err.kind, kind, err.message);
      assert.equal(err.key, key);
      // The message names the key, so an operator can find the upload.
      assert.ok(err.message.includes(JSON.stringify(key)), err.message);
      assert.match(err.message, mentions);
      return true;
    },
  );
}

describe('articles: package names', () => {
  it('parses the real package name into its parts', () => {
    assert.deepEqual(parsePackageName('elife-00353-vor-v1-20121213000000.zip'), {
      key: 'elife-00353-vor-v1-20121213000000.zip',
      fileName: 'elife-00353-vor-v1-20121213000000.zip',
      journal: 'elife',
      articleId: '00353',
      status: 'vor',
      version: 1,
      timestamp: '20121213000000',
    });
  });

  it('takes the name from the last segment of an S3 key, keeps the key, and parses a name without a timestamp', () => {
    const name = parsePackageName('incoming/2024/elife-00353-poa-v12.zip');
    assert.equal(name.key, 'incoming/2024/elife-00353-poa-v12.zip');
    assert.equal(name.fileName, 'elife-00353-poa-v12.zip');
    assert.equal(name.status, 'poa');
    assert.equal(name.version, 12);
    assert.equal('timestamp' in name, false);
  });

  it('keeps leading zeros of the article id (00353 is not 353)', () => {
    assert.equal(parsePackageName('elife-00353-vor-v1.zip').articleId, '00353');
  });

  it('accepts an upper-case .ZIP but not a mixed-case extension', () => {
    assert.equal(parsePackageName('elife-00353-vor-v1.ZIP').version, 1);
    refused('elife-00353-vor-v1.Zip', 'no-match');
  });

  it('accepts unicode in the prefix of the key, not in the name', () => {
    assert.equal(parsePackageName('eingang/März/elife-00353-vor-v1.zip').articleId, '00353');
    // Fullwidth digits look like digits but are not [0-9].
    refused('elife-００353-vor-v1.zip', 'no-match');
    refused('élife-00353-vor-v1.zip', 'no-match');
  });

  it('refuses an empty key and a key that is only a prefix', () => {
    refused('', 'empty-key', /expected <journal>-<articleId>-<poa\|vor>-v<version>/);
    refused('   ', 'empty-key');
    refused('incoming/2024/', 'no-match', /ends with '\/'/);
  });

  it('refuses names that do not match, saying what was expected', () => {
    refused('elife-00353-vor-v1.tar.gz', 'no-match', /elife-00353-vor-v1-20121213000000\.zip/);
    refused('elife-00353-draft-v1.zip', 'no-match');
    refused('elife-00353-vor-1.zip', 'no-match');
    refused('elife-00353-vor-v-1.zip', 'no-match');
    refused('elife-00353-vor-v1-2012121300.zip', 'no-match');
    refused('elife-abc-vor-v1.zip', 'no-match');
  });

  it('refuses version 0, a leading zero and a version too large to be a safe integer', () => {
    refused('elife-00353-vor-v0.zip', 'bad-version', /versions start at 1/);
    refused('elife-00353-vor-v01.zip', 'bad-version', /leading zero/);
    refused('elife-00353-vor-v99999999999999999999.zip', 'bad-version', /too large/);
    assert.equal(parsePackageName(`elife-00353-vor-v${Number.MAX_SAFE_INTEGER}.zip`).version, Number.MAX_SAFE_INTEGER);
  });

  it('refuses timestamps that are not real date-times', () => {
    refused('elife-00353-vor-v1-20121313000000.zip', 'bad-timestamp', /month 13/);
    refused('elife-00353-vor-v1-20130229000000.zip', 'bad-timestamp', /day 29/);
    refused('elife-00353-vor-v1-20121213240000.zip', 'bad-timestamp', /24:00:00/);
    refused('elife-00353-vor-v1-20121213006000.zip', 'bad-timestamp');
    refused('elife-00353-vor-v1-00001213000000.zip', 'bad-timestamp', /before 1900/);
    assert.equal(parsePackageName('elife-00353-vor-v1-20120229235959.zip').timestamp, '20120229235959');
  });

  it("refuses keys with '..' or '.' segments, backslashes or control characters", () => {
    refused('incoming/../elife-00353-vor-v1.zip', 'unsafe-key', /'\.\.'/);
    refused('incoming/./elife-00353-vor-v1.zip', 'unsafe-key');
    refused('..', 'unsafe-key');
    refused('incoming\\elife-00353-vor-v1.zip', 'unsafe-key', /backslash/);
    refused('incoming/elife-00353-vor-v1.zip\n', 'unsafe-key', /control/);
    refused(`${'a/'.repeat(600)}elife-00353-vor-v1.zip`, 'unsafe-key', /1024 bytes/);
  });

  it('takes a configured pattern with named groups, and lower-cases the status', () => {
    const pattern = compilePackageNamePattern('^(?<journal>[a-z]+)_(?<articleId>[0-9]+)_(?<status>POA|VOR)_(?<version>[0-9]+)\\.zip$');
    const name = parsePackageName('in/plos_123_VOR_2.zip', { pattern, description: '<journal>_<id>_<POA|VOR>_<version>.zip' });
    assert.deepEqual(
      { journal: name.journal, articleId: name.articleId, status: name.status, version: name.version, timestamp: name.timestamp },
      { journal: 'plos', articleId: '123', status: 'vor', version: 2, timestamp: undefined },
    );
    refused('in/plos-123.zip', 'no-match', /<journal>_<id>_<POA\|VOR>_<version>\.zip/, { pattern, description: '<journal>_<id>_<POA|VOR>_<version>.zip' });
  });

  it('refuses a configured pattern that lacks a group, has an unknown one, the g flag, or does not compile', () => {
    assert.throws(
      () => compilePackageNamePattern('^(?<journal>\\w+)-(?<articleId>\\d+)-(?<version>\\d+)$'),
      (e: unknown) => e instanceof PackageNamePatternInvalid && /status/.test(e.message),
    );
    assert.throws(
      () => compilePackageNamePattern('^(?<journal>\\w+)-(?<articleId>\\d+)-(?<status>\\w+)-(?<version>\\d+)-(?<stamp>\\d+)$'),
      (e: unknown) => e instanceof PackageNamePatternInvalid && /unknown named group\(s\) stamp/.test(e.message),
    );
    assert.throws(() => compilePackageNamePattern(DEFAULT_PACKAGE_NAME_PATTERN.source, 'g'), PackageNamePatternInvalid);
    assert.throws(
      () => compilePackageNamePattern('(?<journal>'),
      (e: unknown) => e instanceof PackageNamePatternInvalid && /not a regular expression/.test(e.message),
    );
  });

  it('formats the names it parses', () => {
    for (const key of ['elife-00353-vor-v1-20121213000000.zip', 'elife-00353-poa-v2.zip']) assert.equal(formatPackageName(parsePackageName(key)), key);
  });
});
