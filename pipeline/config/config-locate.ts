// Maps a JSON path inside pipeline.json to `line:column`, so every error points at the text.
import { findNodeAtLocation, type Node } from 'jsonc-parser';

export type JsonPath = (string | number)[];

export class SourceLocator {
  private lineStarts: number[] = [0];

  constructor(text: string, private readonly root: Node | undefined) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  lineColumn(offset: number): string {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return `${lo + 1}:${offset - this.lineStarts[lo]! + 1}`;
  }

  /** `line:column` of the value at `path`, or of its nearest existing ancestor. */
  at(path: JsonPath): string {
    if (!this.root) return '1:1';
    for (let n = path.length; n >= 0; n--) {
      const node = findNodeAtLocation(this.root, path.slice(0, n));
      if (node) {
        // Point at the property name rather than its value when there is one.
        const offset = node.parent?.type === 'property' ? node.parent.offset : node.offset;
        return this.lineColumn(offset);
      }
    }
    return '1:1';
  }

  /** Human form of a JSON path: `stages[3].deps[0]`. */
  static show(path: JsonPath): string {
    let s = '';
    for (const p of path) s += typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? (s ? `.${p}` : p) : `[${JSON.stringify(p)}]`;
    return s || '(root)';
  }
}
