/**
 * Keys out of logs: SDES carries the SRTP master key and salt in clear text (RFC 4568 §6.1,
 * `inline:<key>|<lifetime>|<mki>`), so anything that logs or traces a whole SIP message passes it
 * through `redactSdpKeys` first. Also covered: the legacy `k=` line (RFC 4566 §5.12) and MIKEY
 * payloads in `a=key-mgmt:` (RFC 4567), which are key material as well.
 *
 * One case-insensitive regex pass; text without keys is returned unchanged (same string).
 * Tolerates odd spacing: `inline : key`, `INLINE:key`, tabs, several keys joined by `;`.
 */

// inline, optional blanks, ':', optional blanks, then everything up to whitespace or ';'
// (the key, and the optional |lifetime|MKI); or a whole k= / a=key-mgmt: line.
const KEYS = /inline[ \t]*:[ \t]*[^\s;]*|(^|\n)[ \t]*(k[ \t]*=|a[ \t]*=[ \t]*key-mgmt[ \t]*:)[^\r\n]*/gi;

function replace(_match: string, lineStart: string | undefined, lineKind: string | undefined): string {
  if (lineKind === undefined) return 'inline:[redacted]';
  return `${lineStart ?? ''}${lineKind.toLowerCase().startsWith('k') ? 'k=' : 'a=key-mgmt:'}[redacted]`;
}

export function redactSdpKeys(text: string): string {
  return text.replace(KEYS, replace);
}
