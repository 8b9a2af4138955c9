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
 * Uploads are copied into blocks of this size and each block is written with one positional write while the next is
 * being filled. A multiple of {@link DIRECT_ALIGN}, so every full block can bypass the page cache (below).
 */
const BLOCK_BYTES = 1024 * 1024;
/** Blocks per upload: one being filled while the others are written (memory stays at this many blocks). */
const BLOCKS = 4;
/** Offset, length and buffer-address alignment that `O_DIRECT` asks for (4 KiB covers 512 B and 4 KiB sectors). */
const DIRECT_ALIGN = 4096;
/** WebAssembly memory is allocated in 64 KiB pages, page-aligned, which is what `O_DIRECT` buffers need. */
const WASM_PAGE_BYTES = 64 * 1024;

/**
 * Writes a stream to `tmp` and fsyncs it; returns the byte count. On any error the temporary file is removed and
 * the error rethrown.
 *
 * The bytes are gathered into page-aligned 1 MiB blocks, written with `O_DIRECT` where the file system takes it:
 * copying a gigabyte into the page cache cost the thread pool more CPU than the rest of the upload (several seconds
 * when the kernel had to find fresh pages), and left it all for the final fsync to flush. The tail that is not a
 * whole number of sectors, and every block where `O_DIRECT` is refused, go through an ordinary descriptor; the
 * fsync at the end covers both.
 */
export async function streamToTmp(
  content: AsyncIterable<Uint8Array>,
  tmp: string,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<number> {
  const writer = await BlockWriter.open(tmp);
  let bytes = 0;
  try {
    for await (const chunk of content) {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) throw new TooLargeError(maxBytes);
      await writer.append(chunk);
    }
    await writer.finish();
    return bytes;
  } catch (error) {
    await writer.abandon();
    await fsp.rm(tmp, { force: true });
    throw error;
  }
}

/** Appends bytes to a new file through aligned blocks, one block being written while the next one fills. */
class BlockWriter {
  private readonly blocks: Buffer[];
  private readonly writes: (Promise<void> | undefined)[];
  private current = 0;
  private filled = 0;
  private position = 0;

  private constructor(
    private readonly handle: fsp.FileHandle,
    private direct: fsp.FileHandle | undefined,
  ) {
    const memory = new WebAssembly.Memory({ initial: (BLOCKS * BLOCK_BYTES) / WASM_PAGE_BYTES });
    this.blocks = Array.from({ length: BLOCKS }, (_, i) =>
      Buffer.from(memory.buffer, i * BLOCK_BYTES, BLOCK_BYTES),
    );
    this.writes = new Array(BLOCKS).fill(undefined);
  }

  static async open(path: string): Promise<BlockWriter> {
    const handle = await fsp.open(path, 'wx');
    return new BlockWriter(handle, await openDirect(path));
  }

  async append(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.filled === 0) await this.writes[this.current];
      const taken = Math.min(chunk.byteLength - offset, BLOCK_BYTES - this.filled);
      this.blocks[this.current]!.set(chunk.subarray(offset, offset + taken), this.filled);
      this.filled += taken;
      offset += taken;
      if (this.filled === BLOCK_BYTES) this.flushBlock();
    }
  }

  /** Writes what is left, waits for every write and fsyncs. */
  async finish(): Promise<void> {
    const block = this.blocks[this.current]!;
    const aligned = this.filled - (this.filled % DIRECT_ALIGN);
    const position = this.position;
    await Promise.all(this.writes);
    if (aligned > 0) await this.write(block.subarray(0, aligned), position);
    if (this.filled > aligned) {
      await writeFully(this.handle, block.subarray(aligned, this.filled), position + aligned);
    }
    await this.handle.sync();
    await this.close();
  }

  /** Waits for the writes in flight (their failures are already being reported) and closes the file. */
  async abandon(): Promise<void> {
    await Promise.all(this.writes.map((write) => write?.catch(() => undefined)));
    await this.close();
  }

  private flushBlock(): void {
    const write = this.write(this.blocks[this.current]!, this.position);
    // Awaited before the block is refilled, or at the end; this only keeps a failure from being "unhandled" meanwhile.
    write.catch(() => undefined);
    this.writes[this.current] = write;
    this.position += BLOCK_BYTES;
    this.current = (this.current + 1) % BLOCKS;
    this.filled = 0;
  }

  /** An aligned write: `O_DIRECT` while the file system takes it, the page cache once it refused one. */
  private async write(data: Buffer, position: number): Promise<void> {
    if (this.direct) {
      try {
        await writeFully(this.direct, data, position);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
        const direct = this.direct;
        this.direct = undefined;
        await direct.close().catch(() => undefined);
      }
    }
    await writeFully(this.handle, data, position);
  }

  private async close(): Promise<void> {
    await this.direct?.close().catch(() => undefined);
    await this.handle.close();
  }
}

/** A second, `O_DIRECT` descriptor on `path`, or undefined where the platform or file system has none. */
async function openDirect(path: string): Promise<fsp.FileHandle | undefined> {
  const flag = fs.constants.O_DIRECT;
  if (flag === undefined) return undefined;
  try {
    return await fsp.open(path, fs.constants.O_WRONLY | flag);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EINVAL') return undefined;
    throw error;
  }
}

/** Writes all of `data` at `position`, finishing any short write. */
async function writeFully(handle: fsp.FileHandle, data: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const { bytesWritten } = await handle.write(data, offset, data.byteLength - offset, position + offset);
    offset += bytesWritten;
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
