/**
 * Writer of the engine's token file (read by native/engine/tokens.cpp). Little-endian: magic "TKTOKEN1",
 * u32 version = 1, u32 n_examples, u64 offsets[n_examples + 1], int32 input_ids[total], int32 labels[total].
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EncodedExample } from './encode';

const MAGIC = 'TKTOKEN1';
const VERSION = 1;

export function encodeTokenFile(examples: readonly Pick<EncodedExample, 'ids' | 'labels'>[]): Buffer {
  const total = examples.reduce((sum, e) => sum + e.ids.length, 0);
  const headerBytes = 16 + 8 * (examples.length + 1);
  const buffer = Buffer.alloc(headerBytes + 8 * total);
  buffer.write(MAGIC, 0, 'latin1');
  buffer.writeUInt32LE(VERSION, 8);
  buffer.writeUInt32LE(examples.length, 12);
  let offset = 0;
  let idAt = headerBytes;
  let labelAt = headerBytes + 4 * total;
  buffer.writeBigUInt64LE(0n, 16);
  examples.forEach((example, i) => {
    if (example.ids.length !== example.labels.length) {
      throw new Error(`example ${i}: ${example.ids.length} ids but ${example.labels.length} labels`);
    }
    for (let t = 0; t < example.ids.length; t++) {
      buffer.writeInt32LE(example.ids[t] as number, idAt);
      buffer.writeInt32LE(example.labels[t] as number, labelAt);
      idAt += 4;
      labelAt += 4;
    }
    offset += example.ids.length;
    buffer.writeBigUInt64LE(BigInt(offset), 16 + 8 * (i + 1));
  });
  return buffer;
}

/** Writes the token file atomically: a temporary file beside it, fsync, rename. */
export function writeTokenFile(
  file: string,
  examples: readonly Pick<EncodedExample, 'ids' | 'labels'>[],
): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, encodeTokenFile(examples));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const dirFd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}
