// The part of Bazel's remote-execution ActionResult message (build.bazel.remote.execution.v2) that
// a pipe instance fills: output files with their digests. It is what an HTTP remote cache stores
// under /ac/<key>, so bazel-remote (which checks AC entries are ActionResults) accepts ours.
//   ActionResult { repeated OutputFile output_files = 2; int32 exit_code = 4; }
//   OutputFile   { string path = 1; Digest digest = 2; bool is_executable = 4; }
//   Digest       { string hash = 1; int64 size_bytes = 2; }

export interface OutputFile {
  path: string;
  hash: string;
  size: number;
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

function lengthDelimited(field: number, body: Uint8Array): number[] {
  return [...varint((field << 3) | 2), ...varint(body.length), ...body];
}

function digest(hash: string, size: number): Uint8Array {
  return Uint8Array.from([...lengthDelimited(1, Buffer.from(hash)), ...varint((2 << 3) | 0), ...varint(size)]);
}

export function encodeActionResult(files: OutputFile[]): Buffer {
  const bytes: number[] = [];
  for (const f of files) {
    const file = Uint8Array.from([...lengthDelimited(1, Buffer.from(f.path)), ...lengthDelimited(2, digest(f.hash, f.size))]);
    bytes.push(...lengthDelimited(2, file));
  }
  return Buffer.from(bytes);
}

interface Field {
  field: number;
  value: bigint | Buffer;
}

/** Splits one message into its fields; throws on anything that is not well-formed protobuf. */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (pos >= buf.length || shift > 63n) throw new Error('truncated varint');
      const b = buf[pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
    }
  };
  while (pos < buf.length) {
    const tag = Number(readVarint());
    const field = tag >> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ field, value: readVarint() });
    else if (wire === 2) {
      const len = Number(readVarint());
      if (pos + len > buf.length) throw new Error('truncated field');
      out.push({ field, value: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

export function decodeActionResult(buf: Buffer): OutputFile[] {
  const files: OutputFile[] = [];
  for (const f of fields(buf)) {
    if (f.field !== 2 || !Buffer.isBuffer(f.value)) continue;
    let path = '';
    let hash = '';
    let size = 0;
    for (const g of fields(f.value)) {
      if (g.field === 1 && Buffer.isBuffer(g.value)) path = g.value.toString('utf8');
      if (g.field === 2 && Buffer.isBuffer(g.value)) {
        for (const d of fields(g.value)) {
          if (d.field === 1 && Buffer.isBuffer(d.value)) hash = d.value.toString('utf8');
          if (d.field === 2 && typeof d.value === 'bigint') size = Number(d.value);
        }
      }
    }
    files.push({ path, hash, size });
  }
  return files;
}
