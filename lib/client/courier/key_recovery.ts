/**
 * ECDSA P-256 public key recovery, so a message need not carry its author's
 * 65-byte public key: from a signature (r, s) and the signed bytes, the
 * signing key is one of two points (the two y of x = r), and the one whose
 * SHA-256 starts with the author's member id is the author's key.
 *
 * This is a hint, never a check. It decides nothing about authenticity: the
 * candidate it returns hashes to the claimed author (so it can only be that
 * author's key, or nothing), and the signer still verifies the signature with
 * WebCrypto. A bug here can only make an honest message unreadable, never
 * make a forged one pass. Plain BigInt arithmetic on public data: no secrets,
 * so constant time does not matter. It costs a few milliseconds, paid once per
 * author a receiver has not met yet (see `keys.ts`).
 *
 * Curve: NIST P-256 (FIPS 186-4, SEC 2 secp256r1), y² = x³ − 3x + b over F_p.
 * @module
 */

/** The field prime p = 2^256 − 2^224 + 2^192 + 2^96 − 1. */
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
/** The group order n. */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
/** The curve's b (a is −3). */
const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
/** The base point G. */
const G: Jacobian = [
  0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
  1n,
];
/** A raw P-256 signature: r ‖ s, 32 bytes each. */
const SIGNATURE_BYTES = 64;

/** A point in Jacobian coordinates (x = X/Z², y = Y/Z³); Z = 0 is the point at infinity. */
type Jacobian = [bigint, bigint, bigint];

const INFINITY: Jacobian = [0n, 1n, 0n];

function mod(a: bigint, m: bigint = P): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function pow(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  let b = mod(base, m);
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}

/** The inverse modulo a prime (Fermat). */
function invert(a: bigint, m: bigint): bigint {
  return pow(a, m - 2n, m);
}

/** 2·P1 (dbl-2001-b, for a = −3). */
function double([x1, y1, z1]: Jacobian): Jacobian {
  if (z1 === 0n || y1 === 0n) return INFINITY;
  const delta = (z1 * z1) % P;
  const gamma = (y1 * y1) % P;
  const beta = (x1 * gamma) % P;
  const alpha = (3n * mod(x1 - delta) * ((x1 + delta) % P)) % P;
  const x3 = mod(alpha * alpha - 8n * beta);
  const z3 = mod((y1 + z1) * (y1 + z1) - gamma - delta);
  const y3 = mod(alpha * mod(4n * beta - x3) - 8n * ((gamma * gamma) % P));
  return [x3, y3, z3];
}

/** P1 + P2 (add-2007-bl), with the doubling and inverse cases. */
function add(p1: Jacobian, p2: Jacobian): Jacobian {
  const [x1, y1, z1] = p1;
  const [x2, y2, z2] = p2;
  if (z1 === 0n) return p2;
  if (z2 === 0n) return p1;
  const z1z1 = (z1 * z1) % P;
  const z2z2 = (z2 * z2) % P;
  const u1 = (x1 * z2z2) % P;
  const u2 = (x2 * z1z1) % P;
  const s1 = (((y1 * z2) % P) * z2z2) % P;
  const s2 = (((y2 * z1) % P) * z1z1) % P;
  const h = mod(u2 - u1);
  const r = mod(2n * (s2 - s1));
  if (h === 0n) return r === 0n ? double(p1) : INFINITY;
  const i = (4n * h * h) % P;
  const j = (h * i) % P;
  const v = (u1 * i) % P;
  const x3 = mod(r * r - j - 2n * v);
  const y3 = mod(r * (v - x3) - 2n * ((s1 * j) % P));
  const z3 = (mod((z1 + z2) * (z1 + z2) - z1z1 - z2z2) * h) % P;
  return [x3, y3, z3];
}

function negate([x, y, z]: Jacobian): Jacobian {
  return [x, mod(-y), z];
}

/** k·P1, double and add from the top bit. */
function multiply(point: Jacobian, k: bigint): Jacobian {
  let result = INFINITY;
  for (let bit = BigInt(k.toString(2).length - 1); bit >= 0n; bit--) {
    result = double(result);
    if ((k >> bit) & 1n) result = add(result, point);
  }
  return result;
}

/** The uncompressed encoding 0x04 ‖ x ‖ y of a finite point. */
function encodePoint([x, y, z]: Jacobian): Uint8Array<ArrayBuffer> | null {
  if (z === 0n) return null;
  const zi = invert(z, P);
  const zi2 = (zi * zi) % P;
  const ax = (x * zi2) % P;
  const ay = (((y * zi2) % P) * zi) % P;
  const out = new Uint8Array(65);
  out[0] = 4;
  out.set(toBytes(ax), 1);
  out.set(toBytes(ay), 33);
  return out;
}

function toBytes(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = value;
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function toBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/**
 * The two public keys (raw, 65 bytes each) that could have made the raw
 * signature `sig` (r ‖ s) over the SHA-256 digest `hash`; empty when the
 * signature cannot be one (r or s out of range, no curve point at x = r).
 * The rare third and fourth candidates (x = r + n, probability about 2^-128)
 * are left out: such a message simply stays unreadable.
 */
export function recoverPublicKeys(hash: Uint8Array, sig: Uint8Array): Uint8Array<ArrayBuffer>[] {
  if (sig.length !== SIGNATURE_BYTES || hash.length !== 32) return [];
  const r = toBigInt(sig.subarray(0, 32));
  const s = toBigInt(sig.subarray(32));
  if (r <= 0n || r >= N || s <= 0n || s >= N) return [];
  const x = r;
  const alpha = mod(x * x * x - 3n * x + B);
  const y = pow(alpha, (P + 1n) / 4n, P); // p ≡ 3 (mod 4)
  if ((y * y) % P !== alpha) return [];
  const e = mod(toBigInt(hash), N);
  const rInv = invert(r, N);
  const u1 = mod(-e * rInv, N);
  const u2 = (s * rInv) % N;
  // Q = r⁻¹(s·R − e·G) for R = (x, ±y): u1·G + u2·R and u1·G − u2·R.
  const fromG = multiply(G, u1);
  const fromR = multiply([x, y, 1n], u2);
  const keys: Uint8Array<ArrayBuffer>[] = [];
  for (const q of [add(fromG, fromR), add(fromG, negate(fromR))]) {
    const raw = encodePoint(q);
    if (raw) keys.push(raw);
  }
  return keys;
}
