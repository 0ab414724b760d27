/**
 * PEM text handling (RFC 7468). Pure functions with no I/O: the synth path may import
 * {@link normalisePem} to read committed certificates reproducibly.
 */

/** One PEM block: its label (`CERTIFICATE`, `PRIVATE KEY`, ...) and its DER bytes in base64. */
export interface PemBlock {
  /** The label between `BEGIN ` and the closing dashes. */
  readonly label: string;
  /** Header lines (`Name: value`) of legacy encrypted PEM, verbatim; usually empty. */
  readonly headers: readonly string[];
  /** The base64 body without whitespace. */
  readonly base64: string;
}

/** PEM text that cannot be parsed: unbalanced markers, bad base64, or no block at all. */
export class PemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PemError";
  }
}

const BEGIN = /^-----BEGIN ([A-Z0-9 ]+)-----$/;
const END = /^-----END ([A-Z0-9 ]+)-----$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;
const HEADER_LINE = /^[A-Za-z0-9-]+:/;

/**
 * Parses every PEM block of `text`; text outside blocks (explanations, openssl's "Bag
 * Attributes") is ignored.
 * @throws PemError when a block is unterminated, mislabelled, has bad base64, or there is none
 */
export function parsePemBlocks(text: string): PemBlock[] {
  const lines = text
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((l) => l.trim());
  const blocks: PemBlock[] = [];
  let label: string | undefined;
  let headers: string[] = [];
  let body: string[] = [];
  lines.forEach((line, index) => {
    if (label === undefined) {
      const begin = BEGIN.exec(line);
      if (begin?.[1] !== undefined) {
        label = begin[1];
        headers = [];
        body = [];
      } else if (END.test(line)) {
        throw new PemError(`line ${index + 1} ends a PEM block that was never begun`);
      }
      return;
    }
    const end = END.exec(line);
    if (end) {
      if (end[1] !== label) throw new PemError(`line ${index + 1} ends a '${end[1]}' block inside a '${label}' block`);
      const base64 = body.join("");
      if (base64.length === 0 || base64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
        throw new PemError(`the '${label}' block ending on line ${index + 1} does not hold valid base64`);
      }
      blocks.push({ label, headers, base64 });
      label = undefined;
      return;
    }
    if (BEGIN.test(line)) throw new PemError(`line ${index + 1} begins a block inside the unterminated '${label}' block`);
    if (line === "") return;
    if (body.length === 0 && HEADER_LINE.test(line)) {
      headers.push(line);
      return;
    }
    if (!BASE64_LINE.test(line)) throw new PemError(`line ${index + 1} of the '${label}' block is not base64`);
    body.push(line);
  });
  if (label !== undefined) throw new PemError(`the '${label}' block is never ended (no -----END ${label}----- line)`);
  if (blocks.length === 0) throw new PemError("no PEM block found (no -----BEGIN ...----- line)");
  return blocks;
}

/** Formats one block canonically: base64 wrapped at 64 columns, LF line endings. */
export function formatPemBlock(block: PemBlock): string {
  const lines = block.base64.match(/.{1,64}/g) ?? [];
  const headers = block.headers.length > 0 ? [...block.headers, ""] : [];
  return `${[`-----BEGIN ${block.label}-----`, ...headers, ...lines, `-----END ${block.label}-----`].join("\n")}\n`;
}

/**
 * Normalises PEM text: only the PEM blocks are kept, base64 is re-wrapped at 64 columns,
 * line endings are LF and the text ends with exactly one newline. Equal content therefore
 * gives byte-identical text (Cloudflare's provider replaces a certificate whose PEM differs
 * by a trailing newline).
 * @throws PemError when the text holds no well-formed PEM block
 */
export function normalisePem(text: string): string {
  return parsePemBlocks(text).map(formatPemBlock).join("");
}

/** DER bytes of a block. */
export function pemBlockDer(block: PemBlock): Buffer {
  return Buffer.from(block.base64, "base64");
}

/**
 * True when `text` holds a PEM private key block of any kind (PKCS#1, PKCS#8, encrypted, EC,
 * legacy encrypted with `Proc-Type`/`DEK-Info` headers): a BEGIN line, optional headers,
 * base64 only, the matching END line. Markers quoted in source code are not blocks.
 */
export function containsPrivateKeyBlock(text: string): boolean {
  return /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----[ \t]*\r?\n(?:[A-Za-z0-9-]+:.*\r?\n)*[A-Za-z0-9+/=\s]*-----END \1PRIVATE KEY-----/.test(
    text,
  );
}
