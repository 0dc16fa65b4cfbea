/**
 * The one Warning builder (RFC 3261 §20.43): `399 <agent> "<code>: <text>"`, or `399 <agent>
 * "<code>"` when `text` is null (the code alone is still the troubleshooting key). Quotes,
 * backslashes and CR/LF in the text become `'` (a quoted-string must not end early or fold); the
 * text is cut at `maxText` characters, by default so that the quoted part stays within 200.
 */
export function warningValue(agent: string, code: string, text: string | null, maxText = 198 - code.length): string {
  if (text === null) return `399 ${agent} "${code}"`;
  return `399 ${agent} "${code}: ${text.replace(/["\\\r\n]/g, "'").slice(0, maxText)}"`;
}
