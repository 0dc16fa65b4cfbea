/**
 * RFC 3261 §25.1 `hostport` for an address and port: an IPv6 address in brackets (the
 * IPv6reference form). The one host:port formatter (logs, reasons, traces).
 */
export function hostPort(a: { readonly address: string; readonly port: number }): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
