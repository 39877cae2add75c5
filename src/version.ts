// The package version, read once from the package.json above this file (src/ or dist/src/).
import * as fs from 'fs';
import * as path from 'path';

function findPackageJson(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('ser-native: package.json not found above ' + __dirname);
}

/** The version of this package. */
export const PACKAGE_VERSION: string = (JSON.parse(fs.readFileSync(findPackageJson(), 'utf8')) as { version: string }).version;
export const CREATED_BY = `ser-native ${PACKAGE_VERSION}`;
