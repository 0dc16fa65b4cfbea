/**
 * A flat copy of a header-text string (latin1). V8 keeps substrings as views that hold their parent
 * alive: anything kept past the message (a transaction's branch, say) must not be such a view.
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'latin1').toString('latin1');
}
