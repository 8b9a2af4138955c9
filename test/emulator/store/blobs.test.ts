import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { streamToTmp, TooLargeError } from '../../../emulator/store/blobs';

const MiB = 1024 * 1024;

/** `data` cut into pieces of the given sizes, repeated until it is all yielded. */
async function* pieces(data: Buffer, sizes: number[]): AsyncIterable<Uint8Array> {
  let offset = 0;
  for (let i = 0; offset < data.byteLength; i += 1) {
    const size = sizes[i % sizes.length]!;
    yield data.subarray(offset, offset + size);
    offset += size;
  }
}

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tunekit-blobs-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('streamToTmp', () => {
  // Around the 4 KiB sector and the 1 MiB block boundaries, more blocks than are in flight, chunks straddling them.
  it.each([
    [0, [1]],
    [1, [1]],
    [4095, [1000]],
    [4096, [4096]],
    [4 * MiB, [65536]],
    [4 * MiB + 1, [65536, 7]],
    [13 * MiB + 4097, [3 * MiB + 5, 65536, 1]],
  ])('stores %i bytes exactly as streamed', async (size, sizes) => {
    const data = randomBytes(size);
    const tmp = path.join(dir, 'blob.part');
    await expect(streamToTmp(pieces(data, sizes), tmp)).resolves.toBe(size);
    expect(fs.readFileSync(tmp).equals(data)).toBe(true);
  });

  it('removes the temporary file when the stream exceeds maxBytes or fails', async () => {
    const tmp = path.join(dir, 'blob.part');
    await expect(streamToTmp(pieces(randomBytes(9 * MiB), [MiB]), tmp, 6 * MiB)).rejects.toBeInstanceOf(
      TooLargeError,
    );
    expect(fs.readdirSync(dir)).toEqual([]);
    async function* failing(): AsyncIterable<Uint8Array> {
      yield randomBytes(5 * MiB);
      throw new Error('connection reset');
    }
    await expect(streamToTmp(failing(), tmp)).rejects.toThrow('connection reset');
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
