// readFileReusing: the bytes of each file exactly, whatever sizes come before it; errors as fs gives them.
import * as fs from 'fs';
import * as path from 'path';

import { readFileReusing } from '../src/io/read';
import { tempDir } from './helpers/paths';

const work = tempDir('read');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('files of growing and shrinking sizes read back exactly, large ones too', () => {
  const sizes = [0, 1, 300_000, 17, 300_001, 20 << 20, 5];
  sizes.forEach((size, k) => {
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 31 + k) & 0xff;
    const file = path.join(work, `f${k}.bin`);
    fs.writeFileSync(file, bytes);
    const read = readFileReusing(file);
    expect([size, read.length]).toEqual([size, size]);
    expect(read.equals(bytes)).toBe(true);
  });
});

test('a missing file and a folder fail as fs reports them', () => {
  expect(() => readFileReusing(path.join(work, 'nope.wav'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  expect(() => readFileReusing(work)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
});
