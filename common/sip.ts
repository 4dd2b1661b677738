// What the SIP builder returns and the preservation service reports. Kept free of Node
// imports so workflows can carry these values.

export type ChecksumAlgorithm = 'md5' | 'sha256' | 'sha512';

export interface PackagedFile {
  /** Path inside the bag's payload, relative to data/. */
  path: string;
  size: number;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  /** MIME type as identified from the bytes (and extension as a tie-breaker). */
  mimeType: string;
  formatName: string;
}

export interface SipBuildResult {
  sipId: string;
  /** Path of the tar file. */
  tarPath: string;
  tarSize: number;
  tarSha256: string;
  payloadBytes: number;
  payloadFiles: number;
  files: PackagedFile[];
}

export type VerdictStatus = 'accepted' | 'rejected';

export interface Verdict {
  sipId: string;
  status: VerdictStatus;
  /** When the service decided (ISO). */
  decidedAt: string;
  /** Human-readable reasons (empty when accepted). */
  reasons: string[];
  /** URL of the service's report (PREMIS XML). */
  reportUrl: string;
}
