import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The repository's root. */
export const root = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every line of the library's sources (`packages/*\/src`), with where it is (`path:line`, from the root). */
export function librarySourceLines(): Array<{ file: string; at: string; line: string }> {
  return readdirSync(join(root, 'packages')).flatMap((pkg) => {
    const src = join(root, 'packages', pkg, 'src');
    if (!statSync(src, { throwIfNoEntry: false })?.isDirectory()) return [];
    return sources(src).flatMap((path) => {
      const file = relative(root, path);
      return readFileSync(path, 'utf8')
        .split('\n')
        .map((line, i) => ({ file, at: `${file}:${i + 1}`, line }));
    });
  });
}
