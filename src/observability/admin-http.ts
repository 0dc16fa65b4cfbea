/**
 * Admin HTTP on `admin.address:port`: `/metrics` (Prometheus text), `/healthz` (the process
 * answers), `/readyz` (listeners bound and, per trunk, at least one healthy upstream). GET and
 * HEAD only; anything else 404 (or 405 for another method on a known path).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsSource } from './metrics.js';

export interface ReadinessReport {
  readonly listenersBound: boolean;
  /** One entry per configured trunk. */
  readonly trunks: readonly { readonly name: string; readonly healthyUpstreams: number }[];
  /** Issue 14: the trunks and peers with `media: anchor`, and the rtpengine instances answering their ping. */
  readonly media?: { readonly anchored: readonly string[]; readonly instancesUp: number };
}

export type Readiness = () => ReadinessReport | Promise<ReadinessReport>;

/** /readyz from what a running edge knows: listeners bound, and per trunk its hosts that are up. */
export function readinessFrom(
  config: { readonly listen: readonly unknown[]; readonly trunks: readonly { readonly name: string }[] },
  boundListeners: number,
  hosts: readonly { readonly trunk: string; readonly up: boolean }[],
): ReadinessReport {
  return {
    listenersBound: boundListeners === config.listen.length,
    trunks: config.trunks.map((t) => ({ name: t.name, healthyUpstreams: hosts.filter((h) => h.trunk === t.name && h.up).length })),
  };
}

export interface AdminServerOptions {
  readonly address: string;
  /** 0 = any free port; read the bound one from `AdminServer.port`. */
  readonly port: number;
  readonly metrics: MetricsSource;
  readonly readiness: Readiness;
}

export interface AdminServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** What is not ready, by name: `listeners`, `trunk:<name>`; empty when ready. */
export function notReady(r: ReadinessReport): string[] {
  const out: string[] = [];
  if (!r.listenersBound) out.push('listeners');
  for (const t of r.trunks) if (t.healthyUpstreams < 1) out.push(`trunk:${t.name}`);
  // Anchored calls cannot be taken without rtpengine (they would get 503 SIPS_ERR_MEDIA_UNAVAILABLE).
  if (r.media !== undefined && r.media.instancesUp < 1) for (const n of r.media.anchored) out.push(`media:${n}`);
  return out;
}

function send(res: http.ServerResponse, status: number, type: string, body: string, head: boolean): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const PATHS: ReadonlySet<string> = new Set(['/metrics', '/healthz', '/readyz']);

async function handle(opts: AdminServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (!PATHS.has(path)) return send(res, 404, TEXT_TYPE, 'not found\n', req.method === 'HEAD');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, TEXT_TYPE, 'method not allowed\n', false);
  }
  const head = req.method === 'HEAD';
  switch (path) {
    case '/healthz':
      return send(res, 200, TEXT_TYPE, 'ok\n', head);
    case '/metrics':
      return send(res, 200, opts.metrics.contentType, await opts.metrics.text(), head);
    default: {
      const report = await opts.readiness();
      const missing = notReady(report);
      const body = JSON.stringify({ ready: missing.length === 0, notReady: missing, listenersBound: report.listenersBound, trunks: report.trunks, ...(report.media !== undefined ? { media: report.media } : {}) });
      return send(res, missing.length === 0 ? 200 : 503, JSON_TYPE, body + '\n', head);
    }
  }
}

export function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    handle(opts, req, res).catch((err: unknown) => {
      // A failing readiness callback or collector is "not ready", never a crash of the edge.
      if (!res.headersSent) send(res, 503, JSON_TYPE, JSON.stringify({ ready: false, error: err instanceof Error ? err.message : String(err) }) + '\n', false);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(opts.port, opts.address, () => {
      server.off('error', onError);
      const a = server.address() as AddressInfo;
      resolve({
        address: a.address,
        port: a.port,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}
