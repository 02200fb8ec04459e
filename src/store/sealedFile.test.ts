import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileSealer, SEALED_CHUNK_BYTES, unsealStream, type SealedFilePurpose } from './sealedFile';

const KEY = randomBytes(32);

/** Seals `plain`, handing it to the sealer in pieces of the given sizes (as a writer does, page by page). */
function seal(plain: Buffer, pieces: number[], purpose: SealedFilePurpose = 'export'): Buffer {
  const sealer = new FileSealer(KEY, purpose);
  const out: Buffer[] = [];
  let at = 0;
  for (const size of pieces) {
    out.push(sealer.update(plain.subarray(at, at + size)));
    at += size;
  }
  out.push(sealer.update(plain.subarray(at)), sealer.final());
  return Buffer.concat(out);
}

/** Opens `sealed`, fed in reads of `readSize` bytes. */
async function unseal(sealed: Buffer, readSize = 1000, purpose: SealedFilePurpose = 'export'): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < sealed.length; i += readSize) {
    pieces.push(sealed.subarray(i, i + readSize));
  }
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), unsealStream(KEY, purpose), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      out.push(chunk);
    }
  });
  return Buffer.concat(out);
}

describe('sealed files', () => {
  test.each([0, 1, SEALED_CHUNK_BYTES - 1, SEALED_CHUNK_BYTES, SEALED_CHUNK_BYTES + 1, 3 * SEALED_CHUNK_BYTES + 17])(
    'round trip of %i bytes, written and read in uneven pieces',
    async (size) => {
      const plain = randomBytes(size);
      const sealed = seal(plain, [7, 40_000, 1, 100_000]);
      expect(sealed.subarray(0, 8).toString('ascii')).toBe('RTWINENC');
      // Buffer.equals: jest's deep equality walks large buffers byte by byte, slowly.
      expect((await unseal(sealed, 333)).equals(plain)).toBe(true);
      expect((await unseal(sealed, 1 << 20)).equals(plain)).toBe(true);
    }
  );

  test('a changed byte, a swapped or dropped chunk, trailing bytes, another key or purpose are refused', async () => {
    const plain = randomBytes(3 * SEALED_CHUNK_BYTES + 5);
    const sealed = seal(plain, []);
    const header = 33;
    const chunk = 4 + SEALED_CHUNK_BYTES + 16;
    const changed = Buffer.from(sealed);
    changed[header + chunk + 100] ^= 0x80;
    const swapped = Buffer.concat([
      sealed.subarray(0, header),
      sealed.subarray(header + chunk, header + 2 * chunk),
      sealed.subarray(header, header + chunk),
      sealed.subarray(header + 2 * chunk),
    ]);
    const dropped = Buffer.concat([sealed.subarray(0, header), sealed.subarray(header + chunk)]);
    const truncated = sealed.subarray(0, header + 2 * chunk); // ends on a chunk boundary, without the last chunk
    for (const bad of [changed, swapped, dropped, truncated, Buffer.concat([sealed, Buffer.from('x')])]) {
      await expect(unseal(bad)).rejects.toThrow(/damaged, truncated/);
    }
    await expect(unseal(sealed, 1000, 'backup')).rejects.toThrow(/Not an encrypted backup file/);
    const other = new FileSealer(randomBytes(32), 'export');
    await expect(unseal(Buffer.concat([other.update(plain), other.final()]))).rejects.toThrow(/damaged/);
  });
});
