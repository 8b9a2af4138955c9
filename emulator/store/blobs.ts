/**
 * Durable file writes for the data folder: bytes go to a temporary name in <data>/tmp, are fsynced, renamed into
 * place (same file system, so the rename is atomic) and the target folder is fsynced, so a kill -9 at any moment
 * leaves either the whole blob or nothing.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';

/** A fresh path in `tmpDir` that nothing else uses. */
export function tmpPath(tmpDir: string, hint: string): string {
  return path.join(tmpDir, `${hint}.${randomBytes(8).toString('hex')}.part`);
}

/** fsync a folder so that a rename into it survives a power cut (a no-op where folders cannot be opened). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code !== 'EISDIR' &&
      (error as NodeJS.ErrnoException).code !== 'EPERM'
    ) {
      throw error;
    }
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Thrown by `streamToTmp` when the stream exceeds `maxBytes`. */
export class TooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`File exceeds the maximum upload size of ${maxBytes} bytes.`);
  }
}

/**
 * Bytes gathered before one `writev`: each disk write is a round trip through libuv's thread pool, and awaiting one
 * per socket-sized chunk (64 KiB) left the socket paused between writes, capping uploads well below the disk.
 */
const WRITE_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Writes a stream to `tmp` and fsyncs it; returns the byte count. Chunks are gathered while the previous batch is
 * being written (one write in flight, so memory stays near two batches). On any error the temporary file is
 * removed and the error rethrown.
 */
export async function streamToTmp(
  content: AsyncIterable<Uint8Array>,
  tmp: string,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<number> {
  const handle = await fsp.open(tmp, 'wx');
  let bytes = 0;
  let inFlight: Promise<void> = Promise.resolve();
  try {
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    for await (const chunk of content) {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) throw new TooLargeError(maxBytes);
      batch.push(chunk);
      batchBytes += chunk.byteLength;
      if (batchBytes >= WRITE_BATCH_BYTES) {
        await inFlight;
        inFlight = writeAll(handle, batch, batchBytes);
        // Awaited before the next batch or at the end; this only keeps a failure from being "unhandled" meanwhile.
        inFlight.catch(() => undefined);
        batch = [];
        batchBytes = 0;
      }
    }
    await inFlight;
    if (batchBytes > 0) await writeAll(handle, batch, batchBytes);
    await handle.sync();
    await handle.close();
    return bytes;
  } catch (error) {
    await inFlight.catch(() => undefined);
    await handle.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    throw error;
  }
}

/** Writes `buffers` (`total` bytes) at the file position with `writev`, finishing any short write. */
async function writeAll(handle: fsp.FileHandle, buffers: Uint8Array[], total: number): Promise<void> {
  const { bytesWritten } = await handle.writev(buffers);
  if (bytesWritten === total) return;
  const rest = Buffer.concat(buffers).subarray(bytesWritten);
  let offset = 0;
  while (offset < rest.byteLength) {
    const written = await handle.write(rest, offset, rest.byteLength - offset);
    offset += written.bytesWritten;
  }
}

/** Writes `data` to `target` atomically (through `tmpDir`). */
export function writeFileAtomic(target: string, data: Buffer | string, tmpDir: string): void {
  const tmp = tmpPath(tmpDir, path.basename(target));
  const fd = fs.openSync(tmp, 'wx');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  commitTmp(tmp, target);
}

/** Renames a finished temporary file or folder to `target` and fsyncs the folder holding it. */
export function commitTmp(tmp: string, target: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.renameSync(tmp, target);
  fsyncDir(path.dirname(target));
}

/**
 * Copies the regular files of `sourceDir` (not recursive) into a new folder `target`, atomically: the copy is built
 * and fsynced in `tmpDir` and renamed into place.
 */
export function copyDirAtomic(sourceDir: string, target: string, tmpDir: string): void {
  const tmp = tmpPath(tmpDir, path.basename(target));
  fs.mkdirSync(tmp);
  try {
    for (const entry of fs.readdirSync(sourceDir, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const destination = path.join(tmp, entry.name);
      fs.copyFileSync(path.join(sourceDir, entry.name), destination);
      const fd = fs.openSync(destination, 'r+');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    fsyncDir(tmp);
    commitTmp(tmp, target);
  } catch (error) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}
