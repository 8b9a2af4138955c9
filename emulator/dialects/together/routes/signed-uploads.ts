/**
 * Signed upload URLs of Together's upload flow: `POST /files` (or a multipart initiate) mints a random token that
 * authorises exactly one `PUT /together/v1/uploads/{token}` within its lifetime (15 minutes by default). The SDK
 * sends that PUT without its key, so the token is the only authority: 24 random bytes, single use, kept in memory
 * (an emulator restart voids unused URLs; the client asks again). Expired and used tokens are remembered until
 * they would have expired, so their 403 says why.
 */
import { randomBytes } from 'node:crypto';
import type { FilePurpose } from '../../../contract/files';
import { EmulatorError } from '../../../store/errors';

export interface UploadGrant {
  projectId: string;
  fileId: string;
  filename: string;
  purpose: FilePurpose;
  /** Together's purpose as asked (its checks differ for `eval`). */
  togetherPurpose: string;
  /** A part of a multipart upload, when set. */
  part?: { uploadId: string; partNumber: number };
}

/** A multipart upload in progress: its parts land in `dir` (under the data folder's tmp) until `complete`. */
export interface MultipartUpload {
  projectId: string;
  fileId: string;
  filename: string;
  purpose: FilePurpose;
  togetherPurpose: string;
  numParts: number;
  dir: string;
  /** ETag of each part received, by part number. */
  etags: Map<number, string>;
}

interface Entry {
  grant: UploadGrant;
  expiresAt: number;
  used: boolean;
}

export const DEFAULT_UPLOAD_URL_TTL_MS = 15 * 60_000;

export class SignedUploads {
  private readonly entries = new Map<string, Entry>();
  /** Multipart uploads in progress, by upload id. */
  readonly multipart = new Map<string, MultipartUpload>();
  private readonly ttlMs: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: { ttlMs?: number | undefined } = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_UPLOAD_URL_TTL_MS;
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(this.ttlMs, 60_000)));
    this.sweeper.unref();
  }

  /** A new single-use token for `grant`. */
  issue(grant: UploadGrant): string {
    const token = randomBytes(24).toString('base64url');
    this.entries.set(token, { grant, expiresAt: Date.now() + this.ttlMs, used: false });
    return token;
  }

  /** Takes the grant of a token (once); 403 for an unknown, expired or used token. */
  take(token: string): UploadGrant {
    const entry = this.entries.get(token);
    const refuse = (message: string) => new EmulatorError(403, message, 'token', 'invalid_upload_url');
    if (!entry)
      throw refuse('This upload URL is not valid: no upload was started with this token on this server.');
    if (entry.used)
      throw refuse('This upload URL was already used: each URL accepts one upload. Start a new one.');
    if (Date.now() > entry.expiresAt) {
      throw refuse(
        `This upload URL has expired (URLs are valid ${Math.round(this.ttlMs / 1000)} s). Start a new upload.`,
      );
    }
    entry.used = true;
    return entry.grant;
  }

  /** Voids every unused token of a multipart upload (abort, complete). */
  revoke(uploadId: string): void {
    for (const entry of this.entries.values()) if (entry.grant.part?.uploadId === uploadId) entry.used = true;
  }

  close(): void {
    clearInterval(this.sweeper);
    this.entries.clear();
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, entry] of this.entries) if (now > entry.expiresAt) this.entries.delete(token);
  }
}
