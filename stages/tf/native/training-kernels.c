// leukopipe's wasm SIMD training kernels. Built by build.sh into training-kernels.wasm, which is
// instantiated on the memory of tfjs-backend-wasm itself (imported as env.memory), so every pointer
// below is a tensor's offset on the tfjs heap: no copies in or out.
//
// Rules that make sharing that memory safe (build.sh checks them on the built module):
// no data segments, no globals, no stack (no arrays or address-taken locals), no libc.
// Scratch space comes from the caller (tfjs's malloc).
//
// Sums run in a fixed order (reproducible bit for bit): float32 SIMD partial sums over a short
// block (an output row, or 64 rows of a reduction), added into float64 accumulators.
#include <wasm_simd128.h>
#include <stdint.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef float f32;
typedef double f64;

static inline void acc_add_f64(f64 *acc, const f32 *part, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t p = wasm_v128_load(part + i);
    v128_t lo = wasm_f64x2_promote_low_f32x4(p);
    v128_t hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(p, p, 2, 3, 0, 1));
    wasm_v128_store(acc + i, wasm_f64x2_add(wasm_v128_load(acc + i), lo));
    wasm_v128_store(acc + i + 2, wasm_f64x2_add(wasm_v128_load(acc + i + 2), hi));
  }
  for (; i < n; i++) acc[i] += part[i];
}

static inline void zero_f32(f32 *p, int n) {
  for (int i = 0; i < n; i++) p[i] = 0.f;
}

static inline void zero_f64(f64 *p, int n) {
  for (int i = 0; i < n; i++) p[i] = 0.0;
}

/** out[c] = (Σ_r x[r·cols + c]) / divisor; part: cols f32, acc: cols f64 scratch. */
EXPORT(sum_rows)
void sum_rows(const f32 *x, int rows, int cols, f32 *out, f32 *part, f64 *acc, f64 divisor) {
  zero_f64(acc, cols);
  for (int r0 = 0; r0 < rows; r0 += 64) {
    int r1 = r0 + 64 < rows ? r0 + 64 : rows;
    zero_f32(part, cols);
    for (int r = r0; r < r1; r++) {
      const f32 *row = x + (long)r * cols;
      int c = 0;
      for (; c + 4 <= cols; c += 4) wasm_v128_store(part + c, wasm_f32x4_add(wasm_v128_load(part + c), wasm_v128_load(row + c)));
      for (; c < cols; c++) part[c] += row[c];
    }
    acc_add_f64(acc, part, cols);
  }
  for (int c = 0; c < cols; c++) out[c] = (f32)(acc[c] / divisor);
}

enum { OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3 };

static inline v128_t vop(int op, v128_t a, v128_t b) {
  switch (op) {
    case OP_ADD: return wasm_f32x4_add(a, b);
    case OP_SUB: return wasm_f32x4_sub(a, b);
    case OP_MUL: return wasm_f32x4_mul(a, b);
    default: return wasm_f32x4_div(a, b);
  }
}

static inline f32 sop(int op, f32 a, f32 b) {
  switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    default: return a / b;
  }
}

static inline void binary_impl(int op, const f32 *big, const f32 *vec, f32 *out, int n, int period, int vecFirst) {
  if (period == 1) {
    v128_t s = wasm_f32x4_splat(vec[0]);
    int i = 0;
    if (vecFirst) {
      for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, vop(op, s, wasm_v128_load(big + i)));
      for (; i < n; i++) out[i] = sop(op, vec[0], big[i]);
    } else {
      for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, vop(op, wasm_v128_load(big + i), s));
      for (; i < n; i++) out[i] = sop(op, big[i], vec[0]);
    }
    return;
  }
  for (int base = 0; base < n; base += period) {
    const f32 *b = big + base;
    f32 *o = out + base;
    int c = 0;
    if (vecFirst) {
      for (; c + 4 <= period; c += 4) wasm_v128_store(o + c, vop(op, wasm_v128_load(vec + c), wasm_v128_load(b + c)));
      for (; c < period; c++) o[c] = sop(op, vec[c], b[c]);
    } else {
      for (; c + 4 <= period; c += 4) wasm_v128_store(o + c, vop(op, wasm_v128_load(b + c), wasm_v128_load(vec + c)));
      for (; c < period; c++) o[c] = sop(op, b[c], vec[c]);
    }
  }
}

/**
 * out = big ∘ vec (or vec ∘ big when vecFirst), vec of length `period` repeated along big
 * (period 1: a scalar); n a multiple of period.
 */
EXPORT(binary_broadcast)
void binary_broadcast(int op, const f32 *big, const f32 *vec, f32 *out, int n, int period, int vecFirst) {
  switch (op) {  // constant op per instantiation, so the inner loops carry no switch
    case OP_ADD: binary_impl(OP_ADD, big, vec, out, n, period, vecFirst); break;
    case OP_SUB: binary_impl(OP_SUB, big, vec, out, n, period, vecFirst); break;
    case OP_MUL: binary_impl(OP_MUL, big, vec, out, n, period, vecFirst); break;
    default: binary_impl(OP_DIV, big, vec, out, n, period, vecFirst); break;
  }
}

enum { CMP_GE = 0, CMP_LE = 1, CMP_GT = 2, CMP_LT = 3 };

static inline v128_t vcmp(int op, v128_t a, v128_t b) {
  switch (op) {
    case CMP_GE: return wasm_f32x4_ge(a, b);
    case CMP_LE: return wasm_f32x4_le(a, b);
    case CMP_GT: return wasm_f32x4_gt(a, b);
    default: return wasm_f32x4_lt(a, b);
  }
}

static inline int scmp(int op, f32 a, f32 b) {
  switch (op) {
    case CMP_GE: return a >= b;
    case CMP_LE: return a <= b;
    case CMP_GT: return a > b;
    default: return a < b;
  }
}

static inline void compare_impl(int op, const f32 *a, const f32 *b, uint8_t *out, int n, int bScalar) {
  int i = 0;
  v128_t one = wasm_i8x16_splat(1);
  v128_t s = wasm_f32x4_splat(b[0]);
  for (; i + 16 <= n; i += 16) {
    v128_t m0 = vcmp(op, wasm_v128_load(a + i), bScalar ? s : wasm_v128_load(b + i));
    v128_t m1 = vcmp(op, wasm_v128_load(a + i + 4), bScalar ? s : wasm_v128_load(b + i + 4));
    v128_t m2 = vcmp(op, wasm_v128_load(a + i + 8), bScalar ? s : wasm_v128_load(b + i + 8));
    v128_t m3 = vcmp(op, wasm_v128_load(a + i + 12), bScalar ? s : wasm_v128_load(b + i + 12));
    v128_t m01 = wasm_i16x8_narrow_i32x4(m0, m1);
    v128_t m23 = wasm_i16x8_narrow_i32x4(m2, m3);
    wasm_v128_store(out + i, wasm_v128_and(wasm_i8x16_narrow_i16x8(m01, m23), one));
  }
  for (; i < n; i++) out[i] = (uint8_t)scmp(op, a[i], bScalar ? b[0] : b[i]);
}

/** out[i] = a[i] op b[i] (b[0] when bScalar), as bool bytes 0/1. */
EXPORT(compare)
void compare(int op, const f32 *a, const f32 *b, uint8_t *out, int n, int bScalar) {
  switch (op) {
    case CMP_GE: compare_impl(CMP_GE, a, b, out, n, bScalar); break;
    case CMP_LE: compare_impl(CMP_LE, a, b, out, n, bScalar); break;
    case CMP_GT: compare_impl(CMP_GT, a, b, out, n, bScalar); break;
    default: compare_impl(CMP_LT, a, b, out, n, bScalar); break;
  }
}

/** out = a && b on bool bytes (any non-zero is true). */
EXPORT(logical_and)
void logical_and(const uint8_t *a, const uint8_t *b, uint8_t *out, int n) {
  int i = 0;
  v128_t zero = wasm_i8x16_splat(0);
  v128_t one = wasm_i8x16_splat(1);
  for (; i + 16 <= n; i += 16) {
    v128_t ta = wasm_i8x16_ne(wasm_v128_load(a + i), zero);
    v128_t tb = wasm_i8x16_ne(wasm_v128_load(b + i), zero);
    wasm_v128_store(out + i, wasm_v128_and(wasm_v128_and(ta, tb), one));
  }
  for (; i < n; i++) out[i] = (uint8_t)(a[i] && b[i]);
}

/** out[i] = cond[i] ? t[i] : e[i] (32-bit elements). */
EXPORT(select32)
void select32(const uint8_t *cond, const int32_t *t, const int32_t *e, int32_t *out, int n) {
  int i = 0;
  v128_t zero = wasm_i8x16_splat(0);
  for (; i + 16 <= n; i += 16) {
    v128_t c8 = wasm_i8x16_ne(wasm_v128_load(cond + i), zero);       // 16 lanes of 0x00/0xff
    v128_t c16lo = wasm_i16x8_extend_low_i8x16(c8);
    v128_t c16hi = wasm_i16x8_extend_high_i8x16(c8);
    v128_t m0 = wasm_i32x4_extend_low_i16x8(c16lo);
    v128_t m1 = wasm_i32x4_extend_high_i16x8(c16lo);
    v128_t m2 = wasm_i32x4_extend_low_i16x8(c16hi);
    v128_t m3 = wasm_i32x4_extend_high_i16x8(c16hi);
    wasm_v128_store(out + i, wasm_v128_bitselect(wasm_v128_load(t + i), wasm_v128_load(e + i), m0));
    wasm_v128_store(out + i + 4, wasm_v128_bitselect(wasm_v128_load(t + i + 4), wasm_v128_load(e + i + 4), m1));
    wasm_v128_store(out + i + 8, wasm_v128_bitselect(wasm_v128_load(t + i + 8), wasm_v128_load(e + i + 8), m2));
    wasm_v128_store(out + i + 12, wasm_v128_bitselect(wasm_v128_load(t + i + 12), wasm_v128_load(e + i + 12), m3));
  }
  for (; i < n; i++) out[i] = cond[i] ? t[i] : e[i];
}

/**
 * Depthwise filter gradient, channel multiplier 1, NHWC:
 * dF[ky, kx, c] = Σ x[n, oy·sh + ky·dh − padTop, ox·sw + kx·dw − padLeft, c] · dy[n, oy, ox, c].
 * part: kh·kw·c f32, out64: kh·kw·c f64 (the result, converted by the caller).
 */
EXPORT(depthwise_filter_grad)
void depthwise_filter_grad(const f32 *x, const f32 *dy, f64 *out64, f32 *part,
                           int batch, int h, int w, int c, int oh, int ow, int kh, int kw,
                           int sh, int sw, int dh, int dw, int padTop, int padLeft) {
  int taps = kh * kw * c;
  zero_f64(out64, taps);
  for (int n = 0; n < batch; n++) {
    for (int oy = 0; oy < oh; oy++) {
      zero_f32(part, taps);
      const f32 *dyRow = dy + ((long)(n * oh + oy) * ow) * c;
      for (int ky = 0; ky < kh; ky++) {
        int iy = oy * sh - padTop + ky * dh;
        if (iy < 0 || iy >= h) continue;
        const f32 *xRow = x + ((long)(n * h + iy) * w) * c;
        for (int kx = 0; kx < kw; kx++) {
          // ox with 0 ≤ ox·sw + kx·dw − padLeft < w
          int off = kx * dw - padLeft;
          int ox0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
          int ox1 = (w - 1 - off) < 0 ? 0 : (w - 1 - off) / sw + 1;
          if (ox1 > ow) ox1 = ow;
          if (ox0 >= ox1) continue;
          f32 *p = part + (ky * kw + kx) * c;
          int ch = 0;
          for (; ch + 8 <= c; ch += 8) {
            v128_t a0 = wasm_v128_load(p + ch), a1 = wasm_v128_load(p + ch + 4);
            for (int ox = ox0; ox < ox1; ox++) {
              const f32 *xp = xRow + (long)(ox * sw + off) * c + ch;
              const f32 *gp = dyRow + (long)ox * c + ch;
              a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(xp), wasm_v128_load(gp)));
              a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_v128_load(xp + 4), wasm_v128_load(gp + 4)));
            }
            wasm_v128_store(p + ch, a0);
            wasm_v128_store(p + ch + 4, a1);
          }
          for (; ch + 4 <= c; ch += 4) {
            v128_t a0 = wasm_v128_load(p + ch);
            for (int ox = ox0; ox < ox1; ox++) {
              a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(xRow + (long)(ox * sw + off) * c + ch), wasm_v128_load(dyRow + (long)ox * c + ch)));
            }
            wasm_v128_store(p + ch, a0);
          }
          for (; ch < c; ch++) {
            f32 a = p[ch];
            for (int ox = ox0; ox < ox1; ox++) a += xRow[(long)(ox * sw + off) * c + ch] * dyRow[(long)ox * c + ch];
            p[ch] = a;
          }
        }
      }
      acc_add_f64(out64, part, taps);
    }
  }
}

// a0 += v · g0, a1 += v · g1 (float32 multiply, then add: no fused multiply-add, as XNNPACK).
#define MUL_ADD_PAIR(a0, a1, v) \
  do { a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(v, g0)); a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(v, g1)); } while (0)

// One tap of the conv filter gradient over a block of output rows. rows[2r], rows[2r + 1]: float
// offsets into x and dy of the first valid pixel of row r; each row has `pix` valid pixels, x
// pixels step by xPix floats (stride · in channels), dy pixels by co. dW[c, o] += Σ x[·, c] · dy[·, o]
// for a 4 × 8 register tile (in × out channels) at a time.
static void conv_tap(const f32 *x, const f32 *g, const int32_t *rowTable, int rows, int pix, int xPix,
                     int ci, int co, f32 *pt) {
  int c = 0;
  for (; c + 4 <= ci; c += 4) {
    int o = 0;
    for (; o + 8 <= co; o += 8) {
      f32 *p = pt + c * co + o;
      v128_t a00 = wasm_v128_load(p), a01 = wasm_v128_load(p + 4);
      v128_t a10 = wasm_v128_load(p + co), a11 = wasm_v128_load(p + co + 4);
      v128_t a20 = wasm_v128_load(p + 2 * co), a21 = wasm_v128_load(p + 2 * co + 4);
      v128_t a30 = wasm_v128_load(p + 3 * co), a31 = wasm_v128_load(p + 3 * co + 4);
      for (int r = 0; r < rows; r++) {
        const f32 *xp = x + rowTable[2 * r] + c;
        const f32 *gp = g + rowTable[2 * r + 1] + o;
        for (int i = 0; i < pix; i++, xp += xPix, gp += co) {
          v128_t g0 = wasm_v128_load(gp), g1 = wasm_v128_load(gp + 4);
          v128_t x0 = wasm_v128_load32_splat(xp), x1 = wasm_v128_load32_splat(xp + 1);
          v128_t x2 = wasm_v128_load32_splat(xp + 2), x3 = wasm_v128_load32_splat(xp + 3);
          MUL_ADD_PAIR(a00, a01, x0);
          MUL_ADD_PAIR(a10, a11, x1);
          MUL_ADD_PAIR(a20, a21, x2);
          MUL_ADD_PAIR(a30, a31, x3);
        }
      }
      wasm_v128_store(p, a00); wasm_v128_store(p + 4, a01);
      wasm_v128_store(p + co, a10); wasm_v128_store(p + co + 4, a11);
      wasm_v128_store(p + 2 * co, a20); wasm_v128_store(p + 2 * co + 4, a21);
      wasm_v128_store(p + 3 * co, a30); wasm_v128_store(p + 3 * co + 4, a31);
    }
    for (; o < co; o++) {
      f32 *p = pt + c * co + o;
      f32 a0 = p[0], a1 = p[co], a2 = p[2 * co], a3 = p[3 * co];
      for (int r = 0; r < rows; r++) {
        const f32 *xp = x + rowTable[2 * r] + c;
        const f32 *gp = g + rowTable[2 * r + 1] + o;
        for (int i = 0; i < pix; i++, xp += xPix, gp += co) {
          f32 gv = gp[0];
          a0 += xp[0] * gv; a1 += xp[1] * gv; a2 += xp[2] * gv; a3 += xp[3] * gv;
        }
      }
      p[0] = a0; p[co] = a1; p[2 * co] = a2; p[3 * co] = a3;
    }
  }
  // Two or three channels left (an RGB stem): one tile over all of them, so that 4–6 sums run side by
  // side instead of a chain of 2 waiting on each add's latency. Each sum still adds its products in
  // the same order, so the bits are those of the one-channel loop below.
  int oFrom = 0;
  if (ci - c >= 2) {
    int three = ci - c == 3;
    int o = 0;
    for (; o + 8 <= co; o += 8) {
      f32 *p = pt + c * co + o;
      f32 *p2 = three ? p + 2 * co : p;
      v128_t a00 = wasm_v128_load(p), a01 = wasm_v128_load(p + 4);
      v128_t a10 = wasm_v128_load(p + co), a11 = wasm_v128_load(p + co + 4);
      v128_t a20 = wasm_v128_load(p2), a21 = wasm_v128_load(p2 + 4);
      for (int r = 0; r < rows; r++) {
        const f32 *xp = x + rowTable[2 * r] + c;
        const f32 *gp = g + rowTable[2 * r + 1] + o;
        // The third channel's lane reads channel c + 1 again when only two are left; its sums are
        // then not stored.
        const int x2 = three ? 2 : 1;
        for (int i = 0; i < pix; i++, xp += xPix, gp += co) {
          v128_t g0 = wasm_v128_load(gp), g1 = wasm_v128_load(gp + 4);
          v128_t v0 = wasm_v128_load32_splat(xp), v1 = wasm_v128_load32_splat(xp + 1);
          v128_t v2 = wasm_v128_load32_splat(xp + x2);
          MUL_ADD_PAIR(a00, a01, v0);
          MUL_ADD_PAIR(a10, a11, v1);
          MUL_ADD_PAIR(a20, a21, v2);
        }
      }
      wasm_v128_store(p, a00); wasm_v128_store(p + 4, a01);
      wasm_v128_store(p + co, a10); wasm_v128_store(p + co + 4, a11);
      if (three) { wasm_v128_store(p2, a20); wasm_v128_store(p2 + 4, a21); }
    }
    oFrom = o; // leftover output channels: one channel at a time, below
  }
  for (; c < ci; c++) {
    int o = oFrom;
    for (; o + 8 <= co; o += 8) {
      f32 *p = pt + c * co + o;
      v128_t a0 = wasm_v128_load(p), a1 = wasm_v128_load(p + 4);
      for (int r = 0; r < rows; r++) {
        const f32 *xp = x + rowTable[2 * r] + c;
        const f32 *gp = g + rowTable[2 * r + 1] + o;
        for (int i = 0; i < pix; i++, xp += xPix, gp += co) {
          v128_t xv = wasm_v128_load32_splat(xp);
          a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(xv, wasm_v128_load(gp)));
          a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(xv, wasm_v128_load(gp + 4)));
        }
      }
      wasm_v128_store(p, a0);
      wasm_v128_store(p + 4, a1);
    }
    for (; o < co; o++) {
      f32 *p = pt + c * co + o;
      f32 a = p[0];
      for (int r = 0; r < rows; r++) {
        const f32 *xp = x + rowTable[2 * r] + c;
        const f32 *gp = g + rowTable[2 * r + 1] + o;
        for (int i = 0; i < pix; i++, xp += xPix, gp += co) a += xp[0] * gp[0];
      }
      p[0] = a;
    }
  }
}

/** Output rows per block of the conv filter gradient: ≥ 512 pixels (the caller sizes rowTable by it). */
EXPORT(conv_filter_grad_block_rows)
int conv_filter_grad_block_rows(int ow) {
  return ow >= 512 ? 1 : (512 + ow - 1) / ow;
}

/**
 * Conv2D filter gradient, NHWC, dilation 1, without im2col:
 * dW[ky, kx, c, o] = Σ_{n, oy, ox} x[n, oy·sh + ky − padTop, ox·sw + kx − padLeft, c] · dy[n, oy, ox, o].
 * Output rows (all images' rows in a row) are taken in blocks of ≥ 512 pixels; each block's f32
 * partial sums (part: kh·kw·ci·co) are added into out64 (same size, f64). rowTable: scratch of
 * 2 · conv_filter_grad_block_rows(ow) int32.
 */
EXPORT(conv_filter_grad)
void conv_filter_grad(const f32 *x, const f32 *dy, f64 *out64, f32 *part, int32_t *rowTable,
                      int batch, int h, int w, int ci, int oh, int ow, int co, int kh, int kw,
                      int sh, int sw, int padTop, int padLeft) {
  int size = kh * kw * ci * co;
  int block = conv_filter_grad_block_rows(ow);
  int totalRows = batch * oh;
  zero_f64(out64, size);
  for (int b0 = 0; b0 < totalRows; b0 += block) {
    int b1 = b0 + block < totalRows ? b0 + block : totalRows;
    zero_f32(part, size);
    for (int ky = 0; ky < kh; ky++) {
      int offY = ky - padTop;
      for (int kx = 0; kx < kw; kx++) {
        int offX = kx - padLeft;
        // ox with 0 ≤ ox·sw + offX < w
        int x0 = offX >= 0 ? 0 : (-offX + sw - 1) / sw;
        int x1 = (w - 1 - offX) < 0 ? 0 : (w - 1 - offX) / sw + 1;
        if (x1 > ow) x1 = ow;
        if (x0 >= x1) continue;
        int rows = 0;
        int n = b0 / oh, oy = b0 % oh;
        for (int r = b0; r < b1; r++) {
          int iy = oy * sh + offY;
          if (iy >= 0 && iy < h) {
            rowTable[2 * rows] = ((n * h + iy) * w + (x0 * sw + offX)) * ci;
            rowTable[2 * rows + 1] = (r * ow + x0) * co;
            rows++;
          }
          if (++oy == oh) { oy = 0; n++; }
        }
        if (rows) conv_tap(x, dy, rowTable, rows, x1 - x0, sw * ci, ci, co, part + (ky * kw + kx) * ci * co);
      }
    }
    acc_add_f64(out64, part, size);
  }
}

/**
 * MaxPoolGrad for non-overlapping windows (stride = pool size): each input pixel lies in at most
 * one window, so dx is written, not accumulated. The gradient goes to the first maximum of each
 * window (strict >, as on the cpu backend); pixels outside every window get 0.
 */
EXPORT(max_pool_grad_tiled)
void max_pool_grad_tiled(const f32 *x, const f32 *dy, f32 *dx, int batch, int h, int w, int c,
                         int oh, int ow, int fh, int fw, int padTop, int padLeft) {
  long total = (long)batch * h * w * c;
  for (long i = 0; i < total; i++) dx[i] = 0.f;
  for (int n = 0; n < batch; n++) {
    for (int oy = 0; oy < oh; oy++) {
      int y0 = oy * fh - padTop, y1 = y0 + fh;
      if (y0 < 0) y0 = 0;
      if (y1 > h) y1 = h;
      for (int ox = 0; ox < ow; ox++) {
        int x0 = ox * fw - padLeft, x1 = x0 + fw;
        if (x0 < 0) x0 = 0;
        if (x1 > w) x1 = w;
        if (y0 >= y1 || x0 >= x1) continue;
        const f32 *g = dy + (((long)n * oh + oy) * ow + ox) * c;
        int ch = 0;
        for (; ch + 4 <= c; ch += 4) {
          const f32 *first = x + (((long)n * h + y0) * w + x0) * c + ch;
          v128_t best = wasm_v128_load(first);
          v128_t where = wasm_i32x4_splat(y0 * w + x0);
          for (int iy = y0; iy < y1; iy++) {
            for (int ix = iy == y0 ? x0 + 1 : x0; ix < x1; ix++) {
              v128_t v = wasm_v128_load(x + (((long)n * h + iy) * w + ix) * c + ch);
              v128_t m = wasm_f32x4_gt(v, best);
              best = wasm_v128_bitselect(v, best, m);
              where = wasm_v128_bitselect(wasm_i32x4_splat(iy * w + ix), where, m);
            }
          }
          v128_t gv = wasm_v128_load(g + ch);
          for (int iy = y0; iy < y1; iy++) {
            for (int ix = x0; ix < x1; ix++) {
              v128_t m = wasm_i32x4_eq(where, wasm_i32x4_splat(iy * w + ix));
              wasm_v128_store(dx + (((long)n * h + iy) * w + ix) * c + ch, wasm_v128_and(gv, m));
            }
          }
        }
        for (; ch < c; ch++) {
          f32 best = x[(((long)n * h + y0) * w + x0) * c + ch];
          long where = ((long)n * h + y0) * w + x0;
          for (int iy = y0; iy < y1; iy++) {
            for (int ix = iy == y0 ? x0 + 1 : x0; ix < x1; ix++) {
              f32 v = x[(((long)n * h + iy) * w + ix) * c + ch];
              if (v > best) { best = v; where = ((long)n * h + iy) * w + ix; }
            }
          }
          dx[where * c + ch] = g[ch];
        }
      }
    }
  }
}

/** f64 → f32 (results of the accumulating kernels). */
EXPORT(narrow_f64)
void narrow_f64(const f64 *src, f32 *dst, int n) {
  for (int i = 0; i < n; i++) dst[i] = (f32)src[i];
}

/**
 * One Adam step of one variable (kernels/adam-update.ts): m1 = m·β1 + g·(1−β1), v1 = v·β2 + (g·g)·(1−β2),
 * w1 = (m1/(1−β1ᵗ)) / (√(v1/(1−β2ᵗ)) + ε) · (−lr) + w — each operation one IEEE float32 operation in
 * tfjs's AdamOptimizer order, so the bits are those of its ten separate kernels.
 */
EXPORT(adam_update)
void adam_update(const f32 *w, const f32 *g, const f32 *m, const f32 *v, f32 *outM, f32 *outV, f32 *outW, int n,
                 f32 beta1, f32 oneMinusBeta1, f32 beta2, f32 oneMinusBeta2, f32 oneMinusAccBeta1, f32 oneMinusAccBeta2,
                 f32 epsilon, f32 negativeLearningRate) {
  const v128_t b1 = wasm_f32x4_splat(beta1), c1 = wasm_f32x4_splat(oneMinusBeta1);
  const v128_t b2 = wasm_f32x4_splat(beta2), c2 = wasm_f32x4_splat(oneMinusBeta2);
  const v128_t a1 = wasm_f32x4_splat(oneMinusAccBeta1), a2 = wasm_f32x4_splat(oneMinusAccBeta2);
  const v128_t eps = wasm_f32x4_splat(epsilon), nlr = wasm_f32x4_splat(negativeLearningRate);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t gi = wasm_v128_load(g + i);
    v128_t m1 = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), b1), wasm_f32x4_mul(gi, c1));
    v128_t v1 = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), b2), wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), c2));
    v128_t den = wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_div(v1, a2)), eps);
    v128_t step = wasm_f32x4_mul(wasm_f32x4_div(wasm_f32x4_div(m1, a1), den), nlr);
    wasm_v128_store(outM + i, m1);
    wasm_v128_store(outV + i, v1);
    wasm_v128_store(outW + i, wasm_f32x4_add(step, wasm_v128_load(w + i)));
  }
  for (; i < n; i++) {
    f32 gi = g[i];
    f32 m1 = m[i] * beta1 + gi * oneMinusBeta1;
    f32 v1 = v[i] * beta2 + (gi * gi) * oneMinusBeta2;
    f32 den = __builtin_sqrtf(v1 / oneMinusAccBeta2) + epsilon;
    outM[i] = m1;
    outV[i] = v1;
    outW[i] = ((m1 / oneMinusAccBeta1) / den) * negativeLearningRate + w[i];
  }
}

// ---------------------------------------------------------------------------------------------
// Matrix product without packing (kernels/batch-mat-mul.ts). XNNPACK packs the right operand of every
// product afresh unless it saw the same tensor before; in training that operand is new each step (a
// Dense kernel after its update, a gradient), and the packing cost more than the product. Each output
// here is XNNPACK's sum: from +0, a·b added in k order, one rounding per multiply and per add — the
// same bits (test/tf/wasm-kernels.test.ts compares them with the stock kernel).

#define MAC(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))

/**
 * What is done around each output's sum: it starts from bias[j] (or +0); then `clamp` 0 leaves it as
 * summed, 1 clamps it to [lo, hi] as XNNPACK's minmax kernels do (pmax(lo, acc), then pmin(hi, acc): NaN
 * becomes lo), 2 is XNNPACK's relu kernels' integer max with 0 (negatives and -0 become +0, NaN stays).
 */
typedef struct {
  const f32 *bias;
  int clamp;
  v128_t lo, hi;
  f32 lo1, hi1;
} Epilogue;

static inline v128_t clamp4(v128_t acc, const Epilogue *e) {
  if (e->clamp == 1) return wasm_f32x4_pmin(e->hi, wasm_f32x4_pmax(e->lo, acc));
  if (e->clamp == 2) return wasm_i32x4_max(acc, wasm_i32x4_splat(0));
  return acc;
}

static inline f32 clamp1(f32 acc, const Epilogue *e) {
  if (e->clamp == 1) {
    acc = e->lo1 < acc ? acc : e->lo1;
    return acc < e->hi1 ? acc : e->hi1;
  }
  if (e->clamp == 2) return wasm_f32x4_extract_lane(wasm_i32x4_max(wasm_f32x4_splat(acc), wasm_i32x4_splat(0)), 0);
  return acc;
}

/** A(i, p): row-major m × k, or (transA) stored k × m. */
static inline f32 a_at(const f32 *a, int transA, int m, int k, int i, int p) {
  return transA ? a[(int64_t)p * m + i] : a[(int64_t)i * k + p];
}

/**
 * C(i … i+rows-1, j … j+7) += A · panel over kc values of p, rows 4 or 1. A(i+r, p) is arow[r·lda + p], or
 * with transA arow[p·lda + r]; cp is C(i, j), its rows n apart. `first`: the sums start from the bias (or
 * +0), else from what C holds (a previous block of p — f32 in memory is exact, so splitting the k loop
 * keeps every rounding); `last`: the epilogue's clamp is applied.
 */
static inline __attribute__((always_inline)) void gemm_block(const f32 *arow, int lda, int transA, const f32 *panel, int kc,
    f32 *cp, int n, int j, int rows, int first, int last, const Epilogue *e) {
  const v128_t z = wasm_f32x4_splat(0.f);
  const v128_t b0i = first && e->bias ? wasm_v128_load(e->bias + j) : z, b1i = first && e->bias ? wasm_v128_load(e->bias + j + 4) : z;
  if (rows == 4) {
    v128_t c00, c01, c10, c11, c20, c21, c30, c31;
    if (first) {
      c00 = c10 = c20 = c30 = b0i;
      c01 = c11 = c21 = c31 = b1i;
    } else {
      c00 = wasm_v128_load(cp); c01 = wasm_v128_load(cp + 4);
      c10 = wasm_v128_load(cp + n); c11 = wasm_v128_load(cp + n + 4);
      c20 = wasm_v128_load(cp + 2 * n); c21 = wasm_v128_load(cp + 2 * n + 4);
      c30 = wasm_v128_load(cp + 3 * n); c31 = wasm_v128_load(cp + 3 * n + 4);
    }
    for (int p = 0; p < kc; p++) {
      const f32 *bp = panel + 8 * p;
      const v128_t b0 = wasm_v128_load(bp), b1 = wasm_v128_load(bp + 4);
      v128_t a0, a1, a2, a3;
      if (transA) {
        const v128_t col = wasm_v128_load(arow + (int64_t)p * lda);
        a0 = wasm_i32x4_shuffle(col, col, 0, 0, 0, 0);
        a1 = wasm_i32x4_shuffle(col, col, 1, 1, 1, 1);
        a2 = wasm_i32x4_shuffle(col, col, 2, 2, 2, 2);
        a3 = wasm_i32x4_shuffle(col, col, 3, 3, 3, 3);
      } else {
        a0 = wasm_f32x4_splat(arow[p]);
        a1 = wasm_f32x4_splat(arow[lda + p]);
        a2 = wasm_f32x4_splat(arow[2 * lda + p]);
        a3 = wasm_f32x4_splat(arow[3 * lda + p]);
      }
      MAC(c00, a0, b0); MAC(c01, a0, b1);
      MAC(c10, a1, b0); MAC(c11, a1, b1);
      MAC(c20, a2, b0); MAC(c21, a2, b1);
      MAC(c30, a3, b0); MAC(c31, a3, b1);
    }
    if (last) {
      c00 = clamp4(c00, e); c01 = clamp4(c01, e); c10 = clamp4(c10, e); c11 = clamp4(c11, e);
      c20 = clamp4(c20, e); c21 = clamp4(c21, e); c30 = clamp4(c30, e); c31 = clamp4(c31, e);
    }
    wasm_v128_store(cp, c00); wasm_v128_store(cp + 4, c01);
    wasm_v128_store(cp + n, c10); wasm_v128_store(cp + n + 4, c11);
    wasm_v128_store(cp + 2 * n, c20); wasm_v128_store(cp + 2 * n + 4, c21);
    wasm_v128_store(cp + 3 * n, c30); wasm_v128_store(cp + 3 * n + 4, c31);
    return;
  }
  v128_t c0 = first ? b0i : wasm_v128_load(cp), c1 = first ? b1i : wasm_v128_load(cp + 4);
  for (int p = 0; p < kc; p++) {
    const v128_t av = wasm_f32x4_splat(transA ? arow[(int64_t)p * lda] : arow[p]);
    MAC(c0, av, wasm_v128_load(panel + 8 * p));
    MAC(c1, av, wasm_v128_load(panel + 8 * p + 4));
  }
  if (last) { c0 = clamp4(c0, e); c1 = clamp4(c1, e); }
  wasm_v128_store(cp, c0);
  wasm_v128_store(cp + 4, c1);
}

/** C(i, j … n-1) of one row, for the last n mod 8 columns: 4 at a time, then one by one. */
static void gemm_row_tail(const f32 *a, const f32 *b, f32 *c, int transA, int m, int k, int n, int i, int j, const Epilogue *e) {
  for (; j + 4 <= n; j += 4) {
    v128_t c0 = e->bias ? wasm_v128_load(e->bias + j) : wasm_f32x4_splat(0.f);
    for (int p = 0; p < k; p++) MAC(c0, wasm_f32x4_splat(a_at(a, transA, m, k, i, p)), wasm_v128_load(b + (int64_t)p * n + j));
    wasm_v128_store(c + (int64_t)i * n + j, clamp4(c0, e));
  }
  for (; j < n; j++) {
    f32 acc = e->bias ? e->bias[j] : 0.f;
    for (int p = 0; p < k; p++) acc = acc + a_at(a, transA, m, k, i, p) * b[(int64_t)p * n + j];
    c[(int64_t)i * n + j] = clamp1(acc, e);
  }
}

/**
 * C (m × n, row-major) = op(A) · op(B); op(A) = A (m × k) or, when transA, Aᵀ of the stored k × m, and
 * likewise op(B) = B (k × n) or Bᵀ of the stored n × k. Column panels of 8
 * outside, rows inside: each panel of B (k × 8) is first copied into `panel` (room for k × 8 floats) as
 * one contiguous block, which stays in cache while every row of A passes it — read in place, a panel's
 * rows lie n floats apart and fall into a few cache sets. Copying changes no arithmetic.
 */
/**
 * Copies columns j … j+7 of kc rows of B into panel (row stride 8). B(p, ·) is row p of b, rows ld apart;
 * or (transB) B(p, q) = b[q·ld + p], the stored matrix being Bᵀ.
 */
static inline __attribute__((always_inline)) void pack_panel(const f32 *b, f32 *panel, int kc, int ld, int j, int transB) {
  if (!transB) {
    for (int p = 0; p < kc; p++) {
      const f32 *src = b + (int64_t)p * ld + j;
      wasm_v128_store(panel + 8 * p, wasm_v128_load(src));
      wasm_v128_store(panel + 8 * p + 4, wasm_v128_load(src + 4));
    }
    return;
  }
  // 4 × 4 transposes of the stored rows j … j+7, four p at a time.
  int p = 0;
  for (; p + 4 <= kc; p += 4) {
    for (int h = 0; h < 8; h += 4) {
      const f32 *r = b + (int64_t)(j + h) * ld + p;
      const v128_t x0 = wasm_v128_load(r), x1 = wasm_v128_load(r + ld), x2 = wasm_v128_load(r + 2 * ld), x3 = wasm_v128_load(r + 3 * ld);
      const v128_t t0 = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5);
      const v128_t t2 = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7), t3 = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
      wasm_v128_store(panel + 8 * (p + 0) + h, wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5));
      wasm_v128_store(panel + 8 * (p + 1) + h, wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
      wasm_v128_store(panel + 8 * (p + 2) + h, wasm_i32x4_shuffle(t2, t3, 0, 1, 4, 5));
      wasm_v128_store(panel + 8 * (p + 3) + h, wasm_i32x4_shuffle(t2, t3, 2, 3, 6, 7));
    }
  }
  for (; p < kc; p++)
    for (int q = 0; q < 8; q++) panel[8 * p + q] = b[(int64_t)(j + q) * ld + p];
}

/** Rows of A per block (the caller picks the block of k: see kernels/batch-mat-mul.ts). */
#define GEMM_MC 128

/** Rows p0 … p0+kc-1 of every full 8-column panel of B, packed at panels + j·kc (see pack_panel). */
static inline __attribute__((always_inline)) void pack_panels(const f32 *b, f32 *panels, int p0, int kc, int k, int n, int full, int transB) {
  for (int j = 0; j < full; j += 8) {
    if (transB) pack_panel(b + p0, panels + (int64_t)j * kc, kc, k, j, 1);
    else pack_panel(b + (int64_t)p0 * n, panels + (int64_t)j * kc, kc, n, j, 0);
  }
}

/**
 * `panels` holds kcMax × (n rounded down to 8) floats. Loops, outside in: blocks of kcMax values of p, B's
 * rows for them packed once; blocks of GEMM_MC rows of A; 8-column panels; 4 rows. So a block of A stays
 * in L2 and a panel in L1 whatever the sizes, and each output's sum still runs in k order. A small B is
 * best taken whole (kcMax = k): splitting k costs a pass over C per block.
 */
EXPORT(gemm_f32)
void gemm_f32(const f32 *a, const f32 *b, f32 *c, int m, int k, int n, int transA, int transB, f32 *panels, int kcMax,
              const f32 *bias, int clamp, f32 lo, f32 hi) {
  const Epilogue ep = { bias, clamp, wasm_f32x4_splat(lo), wasm_f32x4_splat(hi), lo, hi };
  const Epilogue *e = &ep;
  const int full = n / 8 * 8;
  for (int p0 = 0; p0 < k || (p0 == 0 && k == 0); p0 += kcMax) {
    const int kc = k - p0 < kcMax ? k - p0 : kcMax;
    const int first = p0 == 0, last = p0 + kc >= k;
    pack_panels(b, panels, p0, kc, k, n, full, transB);
    for (int i0 = 0; i0 < m; i0 += GEMM_MC) {
      const int i1 = m - i0 < GEMM_MC ? m : i0 + GEMM_MC;
      for (int j = 0; j < full; j += 8) {
        const f32 *panel = panels + (int64_t)j * kc;
        int i = i0;
        for (; i + 4 <= i1; i += 4) {
          const f32 *arow = transA ? a + (int64_t)p0 * m + i : a + (int64_t)i * k + p0;
          gemm_block(arow, transA ? m : k, transA, panel, kc, c + (int64_t)i * n + j, n, j, 4, first, last, e);
        }
        for (; i < i1; i++) {
          const f32 *arow = transA ? a + (int64_t)p0 * m + i : a + (int64_t)i * k + p0;
          gemm_block(arow, transA ? m : k, transA, panel, kc, c + (int64_t)i * n + j, n, j, 1, first, last, e);
        }
      }
    }
    if (k == 0) break;
  }
  int j = full;
  if (j == n) return;
  if (!transB) {
    for (int i = 0; i < m; i++) gemm_row_tail(a, b, c, transA, m, k, n, i, j, e);
    return;
  }
  // The last n mod 8 columns of a transposed B, one at a time: column q is row q of the stored b.
  for (; j < n; j++) {
    const f32 *col = b + (int64_t)j * k;
    for (int i = 0; i < m; i++) {
      f32 acc = bias ? bias[j] : 0.f;
      for (int p = 0; p < k; p++) acc = acc + a_at(a, transA, m, k, i, p) * col[p];
      c[(int64_t)i * n + j] = clamp1(acc, e);
    }
  }
}

/**
 * A convolution (NHWC, filter [kh][kw][ci][co], co a multiple of 8) as the matrix product XNNPACK's
 * indirect GEMM computes: row i an output pixel, k index (ky, kx, c), taps outside the input read as 0.
 * Each block of A — MC output pixels × KC values of k — is gathered from x into `ablock` just before use
 * (no im2col matrix), B's panels as in gemm_f32; every sum runs from the bias in k order, as XNNPACK's.
 * `panels`: kcMax × co floats; `ablock`: GEMM_MC × kcMax floats.
 */
EXPORT(conv_gemm)
void conv_gemm(const f32 *x, const f32 *filter, f32 *out, int batch, int h, int w, int ci, int oh, int ow, int co,
               int kh, int kw, int sh, int sw, int padTop, int padLeft, f32 *panels, f32 *ablock, int kcMax,
               const f32 *bias, int clamp, f32 lo, f32 hi) {
  const Epilogue ep = { bias, clamp, wasm_f32x4_splat(lo), wasm_f32x4_splat(hi), lo, hi };
  const int m = batch * oh * ow, k = kh * kw * ci;
  for (int p0 = 0; p0 < k; p0 += kcMax) {
    const int kc = k - p0 < kcMax ? k - p0 : kcMax;
    const int first = p0 == 0, last = p0 + kc >= k;
    pack_panels(filter, panels, p0, kc, k, co, co, 0);
    for (int i0 = 0; i0 < m; i0 += GEMM_MC) {
      const int i1 = m - i0 < GEMM_MC ? m : i0 + GEMM_MC;
      for (int i = i0; i < i1; i++) {
        const int b = i / (oh * ow), oy = i / ow % oh, ox = i % ow;
        f32 *dst = ablock + (int64_t)(i - i0) * kc;
        // Runs of channels of one tap: p = (ky·kw + kx)·ci + c.
        for (int p = p0; p < p0 + kc;) {
          const int tap = p / ci, c = p % ci;
          const int run = (ci - c) < (p0 + kc - p) ? (ci - c) : (p0 + kc - p);
          const int iy = oy * sh - padTop + tap / kw, ix = ox * sw - padLeft + tap % kw;
          f32 *d = dst + (p - p0);
          if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
            for (int q = 0; q < run; q++) d[q] = 0.f;
          } else {
            const f32 *src = x + (((int64_t)b * h + iy) * w + ix) * ci + c;
            int q = 0;
            for (; q + 4 <= run; q += 4) wasm_v128_store(d + q, wasm_v128_load(src + q));
            for (; q < run; q++) d[q] = src[q];
          }
          p += run;
        }
      }
      for (int j = 0; j < co; j += 8) {
        const f32 *panel = panels + (int64_t)j * kc;
        int i = i0;
        for (; i + 4 <= i1; i += 4)
          gemm_block(ablock + (int64_t)(i - i0) * kc, kc, 0, panel, kc, out + (int64_t)i * co + j, co, j, 4, first, last, &ep);
        for (; i < i1; i++)
          gemm_block(ablock + (int64_t)(i - i0) * kc, kc, 0, panel, kc, out + (int64_t)i * co + j, co, j, 1, first, last, &ep);
      }
    }
  }
}

/** dst[c·rows + r] = src[r·cols + c] for `batch` matrices of rows × cols, in 4×4 SIMD blocks. */
EXPORT(transpose_matrices)
void transpose_matrices(const f32 *src, f32 *dst, int batch, int rows, int cols) {
  for (int b = 0; b < batch; b++) {
    const f32 *s = src + (int64_t)b * rows * cols;
    f32 *d = dst + (int64_t)b * rows * cols;
    int r = 0;
    for (; r + 4 <= rows; r += 4) {
      int c = 0;
      for (; c + 4 <= cols; c += 4) {
        v128_t x0 = wasm_v128_load(s + (r + 0) * cols + c);
        v128_t x1 = wasm_v128_load(s + (r + 1) * cols + c);
        v128_t x2 = wasm_v128_load(s + (r + 2) * cols + c);
        v128_t x3 = wasm_v128_load(s + (r + 3) * cols + c);
        v128_t t0 = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5);
        v128_t t1 = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5);
        v128_t t2 = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7);
        v128_t t3 = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
        wasm_v128_store(d + (c + 0) * rows + r, wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5));
        wasm_v128_store(d + (c + 1) * rows + r, wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
        wasm_v128_store(d + (c + 2) * rows + r, wasm_i32x4_shuffle(t2, t3, 0, 1, 4, 5));
        wasm_v128_store(d + (c + 3) * rows + r, wasm_i32x4_shuffle(t2, t3, 2, 3, 6, 7));
      }
      for (; c < cols; c++)
        for (int k = 0; k < 4; k++) d[c * rows + r + k] = s[(r + k) * cols + c];
    }
    for (; r < rows; r++)
      for (int c = 0; c < cols; c++) d[c * rows + r] = s[r * cols + c];
  }
}

// ---------------------------------------------------------------------------------------------
// Fused gradients (stages/tf/fused-gradients.ts). Each computes, per element, exactly the float32
// operations of tfjs's gradient formula in its order, so the results are the same bits; what is
// saved is the passes over memory and the intermediate tensors between them.

/** ReLU: dy · step(x), step(x) = 1 if x > 0, NaN if x is NaN, else 0 (tfjs's Step with alpha 0). */
EXPORT(relu_grad)
void relu_grad(const f32 *dy, const f32 *x, f32 *out, int n) {
  const v128_t zero = wasm_f32x4_splat(0.f), one = wasm_f32x4_splat(1.f), nan = wasm_f32x4_splat(__builtin_nanf(""));
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t xv = wasm_v128_load(x + i);
    v128_t s = wasm_v128_and(wasm_f32x4_gt(xv, zero), one);
    s = wasm_v128_bitselect(nan, s, wasm_f32x4_ne(xv, xv));
    wasm_v128_store(out + i, wasm_f32x4_mul(wasm_v128_load(dy + i), s));
  }
  for (; i < n; i++) {
    f32 s = x[i] != x[i] ? __builtin_nanf("") : (x[i] > 0.f ? 1.f : 0.f);
    out[i] = dy[i] * s;
  }
}

/** Square: dy · (x · 2). */
EXPORT(square_grad)
void square_grad(const f32 *dy, const f32 *x, f32 *out, int n) {
  const v128_t two = wasm_f32x4_splat(2.f);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, wasm_f32x4_mul(wasm_v128_load(dy + i), wasm_f32x4_mul(wasm_v128_load(x + i), two)));
  for (; i < n; i++) out[i] = dy[i] * (x[i] * 2.f);
}

/** ClipByValue: dy where lo ≤ x ≤ hi, else +0 (tfjs: where(x ≥ lo and x ≤ hi, dy, zerosLike(dy))). */
EXPORT(clip_grad)
void clip_grad(const f32 *dy, const f32 *x, f32 *out, int n, f32 lo, f32 hi) {
  const v128_t vlo = wasm_f32x4_splat(lo), vhi = wasm_f32x4_splat(hi);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t xv = wasm_v128_load(x + i);
    v128_t in = wasm_v128_and(wasm_f32x4_ge(xv, vlo), wasm_f32x4_le(xv, vhi));
    wasm_v128_store(out + i, wasm_v128_and(wasm_v128_load(dy + i), in));
  }
  for (; i < n; i++) out[i] = (x[i] >= lo && x[i] <= hi) ? dy[i] : 0.f;
}

/**
 * Batch normalisation over the leading axes (x seen as [rows, cols], statistics per column c), the
 * five gradients of tfjs's FusedBatchNorm formula in one pass over x and dy:
 *   t = dy·s[c], xm = x − mean[c]
 *   dx = (dy·r[c])·s[c]
 *   dMean[c] = Σ negR[c]·t        dVar[c] = Σ (m[c]·xm)·t
 *   dScale[c] = Σ dy·(xm·r[c])     dOffset[c] = Σ dy
 * with r = rsqrt(var + ε), negR = r·−1, m = r·r·r·−0.5 computed by the caller. The sums follow
 * sum_rows exactly (float32 over blocks of 64 rows, added into float64), the order tfjs's Sum takes
 * here, so each equals the stock composition bit for bit. part: 4·cols f32, acc: 4·cols f64.
 */
EXPORT(batch_norm_grad)
void batch_norm_grad(const f32 *x, const f32 *dy, const f32 *mean, const f32 *r, const f32 *negR, const f32 *m,
                     const f32 *s, int rows, int cols, f32 *dx, f32 *dMean, f32 *dVar, f32 *dScale, f32 *dOffset,
                     f32 *part, f64 *acc) {
  f32 *pM = part, *pV = part + cols, *pS = part + 2 * cols, *pO = part + 3 * cols;
  f64 *aM = acc, *aV = acc + cols, *aS = acc + 2 * cols, *aO = acc + 3 * cols;
  zero_f64(acc, 4 * cols);
  for (int r0 = 0; r0 < rows; r0 += 64) {
    int r1 = r0 + 64 < rows ? r0 + 64 : rows;
    zero_f32(part, 4 * cols);
    for (int row = r0; row < r1; row++) {
      const f32 *xr = x + (long)row * cols, *dyr = dy + (long)row * cols;
      f32 *dxr = dx + (long)row * cols;
      int c = 0;
      for (; c + 4 <= cols; c += 4) {
        v128_t g = wasm_v128_load(dyr + c), sc = wasm_v128_load(s + c), rc = wasm_v128_load(r + c);
        v128_t t = wasm_f32x4_mul(g, sc);
        v128_t xm = wasm_f32x4_sub(wasm_v128_load(xr + c), wasm_v128_load(mean + c));
        wasm_v128_store(dxr + c, wasm_f32x4_mul(wasm_f32x4_mul(g, rc), sc));
        wasm_v128_store(pM + c, wasm_f32x4_add(wasm_v128_load(pM + c), wasm_f32x4_mul(wasm_v128_load(negR + c), t)));
        wasm_v128_store(pV + c, wasm_f32x4_add(wasm_v128_load(pV + c), wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(m + c), xm), t)));
        wasm_v128_store(pS + c, wasm_f32x4_add(wasm_v128_load(pS + c), wasm_f32x4_mul(g, wasm_f32x4_mul(xm, rc))));
        wasm_v128_store(pO + c, wasm_f32x4_add(wasm_v128_load(pO + c), g));
      }
      for (; c < cols; c++) {
        f32 g = dyr[c], t = g * s[c], xm = xr[c] - mean[c];
        dxr[c] = (g * r[c]) * s[c];
        pM[c] += negR[c] * t;
        pV[c] += (m[c] * xm) * t;
        pS[c] += g * (xm * r[c]);
        pO[c] += g;
      }
    }
    acc_add_f64(acc, part, 4 * cols);
  }
  for (int c = 0; c < cols; c++) {
    dMean[c] = (f32)(aM[c] / 1.0);
    dVar[c] = (f32)(aV[c] / 1.0);
    dScale[c] = (f32)(aS[c] / 1.0);
    dOffset[c] = (f32)(aO[c] / 1.0);
  }
}

/**
 * Batch variance: out[c] = (Σ_r (x[r·cols + c] − mean[c])²) / divisor — tfjs's
 * Mean(Square(Sub(x, mean))) with Mean's order of sums (sum_rows: float32 blocks of 64 rows added
 * into float64), without the two tensors in between. part: cols f32, acc: cols f64 scratch.
 */
EXPORT(sum_sq_dev_rows)
void sum_sq_dev_rows(const f32 *x, const f32 *mean, int rows, int cols, f32 *out, f32 *part, f64 *acc, f64 divisor) {
  zero_f64(acc, cols);
  for (int r0 = 0; r0 < rows; r0 += 64) {
    int r1 = r0 + 64 < rows ? r0 + 64 : rows;
    zero_f32(part, cols);
    for (int r = r0; r < r1; r++) {
      const f32 *row = x + (long)r * cols;
      int c = 0;
      for (; c + 4 <= cols; c += 4) {
        v128_t d = wasm_f32x4_sub(wasm_v128_load(row + c), wasm_v128_load(mean + c));
        wasm_v128_store(part + c, wasm_f32x4_add(wasm_v128_load(part + c), wasm_f32x4_mul(d, d)));
      }
      for (; c < cols; c++) {
        f32 d = row[c] - mean[c];
        part[c] += d * d;
      }
    }
    acc_add_f64(acc, part, cols);
  }
  for (int c = 0; c < cols; c++) out[c] = (f32)(acc[c] / divisor);
}

/**
 * What tf.moments' ops add to batch normalisation's x gradient, after FusedBatchNorm's own
 * (batch_norm_grad), computed as tfjs's tape computes it, operation for operation:
 *   variance = Mean(Square(x − mean)):  q = (dVar[c] / n) · ((x − mean[c]) · 2)   (Tile, SquareGrad)
 *   mean = Mean(x), also in x − mean:    dm[c] = dMean[c] + −Σ_r q                (Sum, Neg, Add)
 *   x's gradients added in tape order:   dx = (dx + q) + dm[c] / n                 (Add, Tile, Add)
 * with Σ_r in Sum's order (sum_rows). dx: FusedBatchNorm's x gradient; out: the whole one.
 * part, dvn, dmn: cols f32 scratch each; acc: cols f64.
 */
EXPORT(moments_grad)
void moments_grad(const f32 *x, const f32 *mean, const f32 *dMean, const f32 *dVar, f32 n, int rows, int cols,
                  const f32 *dx, f32 *dxOut, f32 *part, f64 *acc, f32 *dvn, f32 *dmn) {
  const v128_t two = wasm_f32x4_splat(2.f);
  for (int c = 0; c < cols; c++) dvn[c] = dVar[c] / n;
  zero_f64(acc, cols);
  for (int r0 = 0; r0 < rows; r0 += 64) {
    int r1 = r0 + 64 < rows ? r0 + 64 : rows;
    zero_f32(part, cols);
    for (int r = r0; r < r1; r++) {
      const f32 *row = x + (long)r * cols;
      int c = 0;
      for (; c + 4 <= cols; c += 4) {
        v128_t d = wasm_f32x4_sub(wasm_v128_load(row + c), wasm_v128_load(mean + c));
        v128_t q = wasm_f32x4_mul(wasm_v128_load(dvn + c), wasm_f32x4_mul(d, two));
        wasm_v128_store(part + c, wasm_f32x4_add(wasm_v128_load(part + c), q));
      }
      for (; c < cols; c++) part[c] += dvn[c] * ((row[c] - mean[c]) * 2.f);
    }
    acc_add_f64(acc, part, cols);
  }
  for (int c = 0; c < cols; c++) {
    f32 sum = (f32)(acc[c] / 1.0);
    f32 dm = dMean[c] + -sum;
    dmn[c] = dm / n;
  }
  for (int r = 0; r < rows; r++) {
    const f32 *row = x + (long)r * cols, *in = dx + (long)r * cols;
    f32 *out = dxOut + (long)r * cols;
    int c = 0;
    for (; c + 4 <= cols; c += 4) {
      v128_t d = wasm_f32x4_sub(wasm_v128_load(row + c), wasm_v128_load(mean + c));
      v128_t q = wasm_f32x4_mul(wasm_v128_load(dvn + c), wasm_f32x4_mul(d, two));
      wasm_v128_store(out + c, wasm_f32x4_add(wasm_f32x4_add(wasm_v128_load(in + c), q), wasm_v128_load(dmn + c)));
    }
    for (; c < cols; c++) out[c] = (in[c] + dvn[c] * ((row[c] - mean[c]) * 2.f)) + dmn[c];
  }
}

// ---------------------------------------------------------------------------------------------
// The study head fitted by hand (lib/classifier/native-head-fit.ts): the element-wise passes around its
// gemm_f32 products. Each is one pass in float32, in a fixed order, so a fit is reproducible bit for bit.

/**
 * BatchNormalization of rows `rows` of x (d values each): with `training`, the batch's mean and (biased)
 * variance are computed into mean/var first; else mean/var hold the moving statistics. scale = 1/√(var+ε),
 * xn = (x − mean)·scale (kept for gamma's gradient), xhat = xn·gamma + beta. The rows are gathered here.
 */
EXPORT(head_standardize)
void head_standardize(const f32 *x, const int32_t *rows, int n, int d, const f32 *gamma, const f32 *beta, f32 eps,
                      f32 *mean, f32 *var, f32 *scale, int training, f32 *xn, f32 *xhat) {
  if (training) {
    zero_f32(mean, d);
    zero_f32(var, d);
    for (int b = 0; b < n; b++) {
      const f32 *row = x + (int64_t)rows[b] * d;
      int c = 0;
      for (; c + 4 <= d; c += 4) wasm_v128_store(mean + c, wasm_f32x4_add(wasm_v128_load(mean + c), wasm_v128_load(row + c)));
      for (; c < d; c++) mean[c] += row[c];
    }
    const f32 inv = 1.f / (f32)n;
    for (int c = 0; c < d; c++) mean[c] = mean[c] * inv;
    for (int b = 0; b < n; b++) {
      const f32 *row = x + (int64_t)rows[b] * d;
      int c = 0;
      for (; c + 4 <= d; c += 4) {
        v128_t e = wasm_f32x4_sub(wasm_v128_load(row + c), wasm_v128_load(mean + c));
        wasm_v128_store(var + c, wasm_f32x4_add(wasm_v128_load(var + c), wasm_f32x4_mul(e, e)));
      }
      for (; c < d; c++) {
        f32 e = row[c] - mean[c];
        var[c] += e * e;
      }
    }
    for (int c = 0; c < d; c++) var[c] = var[c] * inv;
  }
  for (int c = 0; c < d; c++) scale[c] = 1.f / __builtin_sqrtf(var[c] + eps);
  for (int b = 0; b < n; b++) {
    const f32 *row = x + (int64_t)rows[b] * d;
    f32 *on = xn + (int64_t)b * d, *oh = xhat + (int64_t)b * d;
    int c = 0;
    for (; c + 4 <= d; c += 4) {
      v128_t v = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(row + c), wasm_v128_load(mean + c)), wasm_v128_load(scale + c));
      wasm_v128_store(on + c, v);
      wasm_v128_store(oh + c, wasm_f32x4_add(wasm_f32x4_mul(v, wasm_v128_load(gamma + c)), wasm_v128_load(beta + c)));
    }
    for (; c < d; c++) {
      f32 v = (row[c] - mean[c]) * scale[c];
      on[c] = v;
      oh[c] = v * gamma[c] + beta[c];
    }
  }
}

/** tfjs's dropout with its uniform draw u: kept where (float32) u + keep ≥ 1, then multiplied by 1/keep. */
EXPORT(head_dropout)
void head_dropout(const f32 *h, const f32 *u, f32 *out, int count, f32 keep, f32 multiplier) {
  for (int i = 0; i < count; i++) out[i] = u[i] + keep >= 1.f ? h[i] * multiplier : 0.f;
}

/** The gradient through dropout and the relu before it: dy·(1/keep) where the dropout output is positive, else 0. */
EXPORT(head_dropout_grad)
void head_dropout_grad(const f32 *dy, const f32 *out, f32 *dx, int count, f32 multiplier) {
  for (int i = 0; i < count; i++) dx[i] = out[i] > 0.f ? dy[i] * multiplier : 0.f;
}

/**
 * The hidden layer's kernel gradient and BatchNormalization's weight gradients from g = xnᵀ·dh (d × h), the
 * product of the normalised input with the hidden layer's gradient. As xhat = xn·gamma + beta,
 * dkernel = gamma_r·g + beta_r·dbias; and as dxhat = dh·kernelᵀ, dgamma_r = Σ_j kernel_rj·g_rj and
 * dbeta_r = Σ_j kernel_rj·dbias_j: one pass over the kernel instead of a third batch × h × d product.
 */
EXPORT(head_kernel_grads)
void head_kernel_grads(const f32 *g, const f32 *w, const f32 *gamma, const f32 *beta, const f32 *dbias, int d, int h,
                       f32 *dw, f32 *dgamma, f32 *dbeta) {
  for (int r = 0; r < d; r++) {
    const f32 *gr = g + (int64_t)r * h, *wr = w + (int64_t)r * h;
    f32 *dwr = dw + (int64_t)r * h;
    const v128_t scale = wasm_f32x4_splat(gamma[r]), shift = wasm_f32x4_splat(beta[r]);
    v128_t sg = wasm_f32x4_splat(0.f), sb = wasm_f32x4_splat(0.f);
    int j = 0;
    for (; j + 4 <= h; j += 4) {
      v128_t gj = wasm_v128_load(gr + j), wj = wasm_v128_load(wr + j), bj = wasm_v128_load(dbias + j);
      wasm_v128_store(dwr + j, wasm_f32x4_add(wasm_f32x4_mul(gj, scale), wasm_f32x4_mul(bj, shift)));
      sg = wasm_f32x4_add(sg, wasm_f32x4_mul(wj, gj));
      sb = wasm_f32x4_add(sb, wasm_f32x4_mul(wj, bj));
    }
    f32 tg = (wasm_f32x4_extract_lane(sg, 0) + wasm_f32x4_extract_lane(sg, 1)) + (wasm_f32x4_extract_lane(sg, 2) + wasm_f32x4_extract_lane(sg, 3));
    f32 tb = (wasm_f32x4_extract_lane(sb, 0) + wasm_f32x4_extract_lane(sb, 1)) + (wasm_f32x4_extract_lane(sb, 2) + wasm_f32x4_extract_lane(sb, 3));
    for (; j < h; j++) {
      dwr[j] = gr[j] * gamma[r] + dbias[j] * beta[r];
      tg += wr[j] * gr[j];
      tb += wr[j] * dbias[j];
    }
    dgamma[r] = tg;
    dbeta[r] = tb;
  }
}
