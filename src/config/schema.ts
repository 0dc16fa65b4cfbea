import { DEFAULT_LIMITS } from './limits.js';
import { bool, defaulted, int, list, obj, oneOf, optional, record, refine, str, withDefault, type Field, type Infer } from './validate.js';

/**
 * The one config file. Every key has a description (the README reference is generated from these
 * and a test keeps the two in step) and, where sensible, a default.
 */

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|\[?[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*\]?)$/;
const ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*|localhost)$/;
const CIDR = /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)(\/\d{1,3})?$/;

/** S-VAL-3: the vendor validates by host name; a target given as an IP address cannot pass RFC 5922. */
const hostName = (doc: string) => refine(str(doc, { pattern: HOSTNAME, patternText: 'a DNS host name' }), (v, path, issues) => {
  if (IP_LITERAL.test(v)) issues.push({ path, message: `got ${JSON.stringify(v)}: an IP address cannot be validated against a certificate (S-VAL-3, RFC 5922); use the host name` });
});

/** `edge.workers`: `auto` (one per core, os.availableParallelism()) or a count. */
const MAX_WORKERS = 64;
const workerCount = (doc: string): Field<'auto' | number> => ({
  kind: `\`auto\` \\| integer 1..${MAX_WORKERS}`,
  doc,
  parse(v, path, issues) {
    if (v === 'auto') return 'auto';
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_WORKERS) return v;
    issues.push({ path, message: `got ${typeof v === 'string' ? JSON.stringify(v) : String(v)}, expected auto or an integer 1..${MAX_WORKERS}` });
    return undefined;
  },
});

const transport = oneOf('transport', ['udp', 'tcp', 'tls'] as const);

const listener = obj('a listening socket', {
  name: optional(str('label used in logs and metrics')),
  side: oneOf('outside = the vendor-facing TLS trunk; inside = PBXs and carriers', ['outside', 'inside'] as const),
  transport,
  address: withDefault(str('local address to bind (IPv4 or IPv6)', { pattern: ADDRESS, patternText: 'an IPv4 or IPv6 address' }), '0.0.0.0'),
  port: int('local port (0 = any free port, for tests)', 0, 65535),
  advertise: optional(str('host name or address written into Via and Record-Route instead of the bound address')),
});

const identity = obj('a certificate the TLS listeners present', {
  cert: str('PEM file: leaf first, then every intermediate (S-TRUST-5)'),
  key: str('PEM private key file (RSA, S-TLS-7)'),
  passphraseEnv: optional(str('environment variable holding the key passphrase')),
  names: optional(list('SNI names this identity serves (default: the names in the certificate)', str('host name'))),
});

const sessionTickets = obj('TLS 1.2 session tickets (RFC 5077) on the listeners; keys derived per rotation period from a secret with HKDF, so instances sharing the secret resume each other\'s sessions', {
  enabled: withDefault(bool('issue and accept session tickets'), true),
  keyFile: optional(str('file holding the shared secret (at least 32 bytes, e.g. `openssl rand -base64 48`); re-read on reload. None: a random secret per process')),
  rotationSeconds: withDefault(int('ticket key rotation period; a ticket of the previous period gets a full handshake (values of a few seconds are for tests)', 1, 86_400), 3600),
  lifetimeSeconds: withDefault(int('ticket lifetime hint and session ID cache timeout (Node sessionTimeout)', 1, 86_400), 3600),
});

const tls = obj('TLS policy (S-TLS, S-VAL)', {
  deprecatedCiphers: withDefault(oneOf('the two ciphers slated for deprecation (S-TLS-4): allow, allow and log once per connection (warn), or refuse (deny)', ['allow', 'warn', 'deny'] as const), 'warn'),
  handshakeTimeoutMs: withDefault(int('TLS handshake limit on both sides (S-TLS-6)', 50, 10_000), 500),
  revocation: withDefault(oneOf('CRL checking of the vendor certificates (S-VAL-5): soft allows when a CRL cannot be fetched, hard refuses', ['off', 'soft', 'hard'] as const), 'soft'),
  cnFallback: withDefault(oneOf('accept the subject CN when it is the only name (never: only when there is no SAN at all, RFC 5922 §7.1)', ['never', 'always'] as const), 'never'),
  identities: withDefault(list('certificates presented on TLS listeners; the first is the default when no SNI matches', identity), []),
  crlFiles: withDefault(list('CRL files (PEM or DER) loaded at start and on reload', str('path')), []),
  crlFetchTimeoutMs: withDefault(int('total deadline of one CRL distribution point fetch (S-VAL-5); handshakes waiting on it share the fetch, then soft allows and hard refuses', 100, 10_000), 2000),
  keyLogFile: optional(str('write TLS session keys in SSLKEYLOGFILE format (lab debugging only; logged as a warning)')),
  sessionTickets: defaulted(sessionTickets),
  clientSessionCache: withDefault(bool('resume TLS sessions to lb hosts: one session per (host name, port), at most 1,000, only after full verification, offered only to the name it was verified for'), true),
});

/** timers.trying's default: half of §17.2.1's 200 ms, far under a caller's Timer A (T1, 500 ms). */
export const DEFAULT_TRYING_MS = 100;

const timers = obj('RFC 3261 timers, milliseconds', {
  T1: withDefault(int('RTT estimate (§17.1.1.1)', 50, 10_000), 500),
  T2: withDefault(int('maximum retransmit interval for non-INVITE requests and INVITE responses', 500, 60_000), 4000),
  T4: withDefault(int('maximum time a message stays in the network', 500, 60_000), 5000),
  timerC: withDefault(int('proxy INVITE transaction timeout (§16.6 step 11: more than 3 min)', 1000, 3_600_000), 181_000),
  trying: withDefault(int('the edge\'s 100 Trying to an INVITE goes only when no other response has been sent this long after the INVITE arrived (or at once on a retransmission); 0: at once. §17.2.1 requires it unless the TU answers within 200 ms', 0, 200), DEFAULT_TRYING_MS),
  inviteFailover: withDefault(int('an INVITE branch with no response at all (not even 100 Trying) this long is given up and the next host tried; 0: off (only Timer B/C). 4 s: far above a healthy hop\'s 100 Trying (<200 ms, §17.2.1), and four hosts fit in the caller\'s 32 s Timer B', 0, 60_000), 4000),
});

/** Limits whose range is narrower than any non-negative integer. */
const LIMIT_RANGES: Partial<Record<keyof typeof DEFAULT_LIMITS, readonly [number, number]>> = { maxEventLoopUtilizationPercent: [0, 100], eventLoopUtilizationDrillPercent: [0, 100] };
const limitFields = Object.fromEntries(
  Object.entries(DEFAULT_LIMITS).map(([k, v]) => {
    const [min, max] = LIMIT_RANGES[k as keyof typeof DEFAULT_LIMITS] ?? [0, 2 ** 31 - 1];
    return [k, withDefault(int(`see config/limits.ts`, min, max), v)];
  }),
) as { [K in keyof typeof DEFAULT_LIMITS]: ReturnType<typeof int> };
const limits = obj('operator limits (defaults and reasons in src/config/limits.ts)', limitFields);

const hostPort = obj('an upstream host', {
  host: hostName('host name (never an IP address: S-VAL-3)'),
  port: optional(int('port (default: the trunk port)', 1, 65535)),
  priority: optional(int('lower is tried first with strategy priority', 0, 65535)),
});

const numbers = obj('number normalisation toward E.164', {
  countryCode: optional(str('country code without +, e.g. "49"', { pattern: /^[1-9]\d{0,2}$/ })),
  nationalPrefix: withDefault(str('trunk prefix of national numbers', { pattern: /^\d*$/ }), '0'),
  internationalPrefix: withDefault(str('international access prefix', { pattern: /^\d*$/ }), '00'),
  stripPrefix: optional(str('digits removed from the front first (e.g. an outside-line 0)', { pattern: /^[\d*#]+$/ })),
  addPrefix: optional(str('digits added in front after stripping', { pattern: /^\+?[\d*#]*$/ })),
  plus: withDefault(bool('write E.164 numbers with a leading +'), true),
});

const trust = obj('trust anchors for the vendor side', {
  roots: optional(list('bundled roots: digicert-ev, digicert-g2, digicert-g3 (default: the region\'s, S-TRUST-2)', oneOf('root', ['digicert-ev', 'digicert-g2', 'digicert-g3'] as const))),
  files: optional(list('PEM or DER root files, e.g. a BYOC Premises organisation CA (S-PREM-1)', str('path'))),
});

const health = obj('OPTIONS probes of each upstream host', {
  intervalSeconds: withDefault(int('probe interval', 1, 3600), 30),
  downAfter: withDefault(int('failures in a row that mark a host down', 1, 100), 2),
  upAfter: withDefault(int('successes in a row that mark it up again', 1, 100), 2),
  enabled: withDefault(bool('probe at all'), true),
});

const trunk = refine(obj('a trunk toward the vendor\'s regional proxies', {
  name: str('trunk name (logs, metrics, routing)', { pattern: /^[A-Za-z0-9_.-]+$/ }),
  region: optional(str('region code from config/regions.yaml (S-REG), e.g. euc1')),
  hosts: optional(list('explicit host list (BYOC Premises, or to override the region\'s)', hostPort, { minLength: 1 })),
  transport: withDefault(oneOf('tls for the vendor (S-CON-5); udp/tcp only with insecure: true (labs, carriers)', ['tls', 'tcp', 'udp'] as const), 'tls'),
  insecure: withDefault(bool('allow a non-TLS transport for this trunk'), false),
  port: withDefault(int('port of the hosts (S-TLS-2)', 1, 65535), 5061),
  scheme: withDefault(oneOf('Request-URI scheme: sip with transport=tls (the vendor\'s form), or sips', ['sip', 'sips'] as const), 'sip'),
  mode: withDefault(oneOf('Request-URI form (S-URI-2..5)', ['tgrp', 'dnis', 'fqdn'] as const), 'tgrp'),
  tgrp: optional(str('trunk group label = the trunk\'s inbound SIP termination identifier (TGRP mode)')),
  trunkContext: optional(str('trunk-context namespace, e.g. byoc.euc1.pure.cloud (TGRP mode; default from the region)')),
  fqdn: optional(str('identifier for FQDN mode: <fqdn>.<regional BYOC domain>')),
  terminationHeader: optional(obj('Inbound SIP Termination Header', { name: str('header name'), value: str('header value (the trunk identifier)') })),
  numbers: defaulted(numbers),
  strategy: withDefault(oneOf('target order', ['round-robin', 'priority'] as const), 'round-robin'),
  failover: withDefault(int('further hosts tried after a 503, 408 or transport failure', 0, 10), 3),
  preconnect: withDefault(bool('tcp/tls: each process opens its connection to every host at start (a CRLF keep-alive ping, RFC 5626), so the first calls do not wait for the connect and TLS handshake'), true),
  trust: optional(trust),
  extraIdentities: withDefault(list('further exact certificate names accepted for this trunk\'s hosts (no wildcards)', hostName('host name')), []),
  srtp: withDefault(oneOf('SDP check on this trunk (S-MEDIA-1): the vendor side is always required', ['required'] as const), 'required'),
  media: withDefault(oneOf('passthrough: media flows end to end and must be SRTP (the SDP gate checks it); anchor: every call of this trunk is anchored through rtpengine (media.rtpengine), SRTP toward the vendor, the inside peer\'s srtp setting toward it', ['passthrough', 'anchor'] as const), 'passthrough'),
  health: defaulted(health),
}), (t, path, issues) => {
  if (t.region === undefined && t.hosts === undefined) issues.push({ path, message: 'needs region or hosts' });
  if (t.transport !== 'tls' && !t.insecure) issues.push({ path: `${path}.transport`, message: `got "${t.transport}": the vendor trunk is TLS only (S-CON-5); set insecure: true to allow it for a lab or carrier leg` });
  if (t.mode === 'fqdn' && t.fqdn === undefined) issues.push({ path: `${path}.fqdn`, message: 'missing, mode fqdn needs the identifier' });
  if (t.mode === 'tgrp' && t.tgrp === undefined) issues.push({ path: `${path}.tgrp`, message: 'missing, mode tgrp needs the trunk group label' });
});

const peer = obj('an inside peer: a PBX or a carrier', {
  name: str('peer name', { pattern: /^[A-Za-z0-9_.-]+$/ }),
  host: str('address or host name requests to this peer go to'),
  port: withDefault(int('port', 1, 65535), 5060),
  transport: withDefault(transport, 'udp'),
  sources: withDefault(list('source addresses or CIDRs accepted from this peer (default: its host)', str('CIDR', { pattern: CIDR, patternText: 'an address or CIDR' })), []),
  trunk: optional(str('trunk for calls from this peer (default: routing.defaultTrunk)')),
  srtp: withDefault(oneOf('what the inside leg speaks: required = SRTP checked (S-MEDIA-1 rules); optional = SRTP not checked, and with media: anchor SRTP offered on this leg; none (or off) = RTP only: not checked, and with media: anchor RTP/AVP without crypto on this leg', ['required', 'optional', 'none', 'off'] as const), 'off'),
  media: withDefault(oneOf('passthrough: SDP passes unchanged (toward the vendor it must already be SRTP, else 488); anchor: this peer\'s calls are anchored through rtpengine (media.rtpengine) and bridged RTP <-> SRTP, for carriers and PBXs without SRTP', ['passthrough', 'anchor'] as const), 'passthrough'),
  servername: optional(str('TLS: name to validate this peer\'s certificate against')),
  trustFiles: optional(list('TLS: private CA files for this peer', str('path'))),
});

const routing = obj('which trunk or peer a request goes to', {
  defaultTrunk: optional(str('trunk for inside requests no rule matches')),
  defaultPeer: optional(str('peer for vendor requests no rule matches')),
  outbound: withDefault(list('by called-number prefix, first match wins', obj('rule', { prefix: str('number prefix', { pattern: /^\+?[\d*#]*$/ }), trunk: str('trunk name') })), []),
  inbound: withDefault(list('vendor -> inside: by number prefix, tgrp or R-URI host', obj('rule', {
    prefix: optional(str('called-number prefix', { pattern: /^\+?[\d*#]*$/ })),
    tgrp: optional(str('the tgrp user parameter the vendor sends')),
    host: optional(str('Request-URI host (the vendor\'s Outbound SIP Termination FQDN)')),
    peer: str('peer name'),
  })), []),
  vendorSources: withDefault(list('further source CIDRs accepted on outside listeners besides the resolved lb hosts', str('CIDR', { pattern: CIDR, patternText: 'an address or CIDR' })), []),
  foreignRoutes: withDefault(oneOf('Route headers on initial requests from inside peers (the trunk would follow them): strip, refuse with 403, or pass', ['strip', 'refuse', 'pass'] as const), 'strip'),
});

const dns = obj('name resolution', {
  overrides: withDefault(record('host name -> addresses, used before DNS (labs and tests)', list('addresses', str('address', { pattern: ADDRESS, patternText: 'an IP address' }))), {}),
  srv: withDefault(bool('resolve _sips._tcp SRV records for trunk domains (RFC 3263 §4.2)'), false),
});

const admin = obj('admin HTTP: /metrics /healthz /readyz', {
  enabled: withDefault(bool('serve the admin endpoints'), true),
  address: withDefault(str('bind address', { pattern: ADDRESS }), '127.0.0.1'),
  port: withDefault(int('port (0 = any free port)', 0, 65535), 9090),
});

const logging = obj('logs and capture', {
  warningDetail: defaulted(obj('how much the Warning header of the edge\'s own responses says (the SIPS_ERR_* code is always there)', {
    inside: withDefault(oneOf('toward the inside (PBXs): full = code and text (names the lb host and the reason)', ['full', 'code'] as const), 'full'),
    outside: withDefault(oneOf('toward the vendor and unknown sources: code = the code alone (no inside names)', ['full', 'code'] as const), 'code'),
  })),
  level: withDefault(oneOf('pino level; debug writes full SIP traces (keys redacted)', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), 'info'),
  hep: optional(obj('HEPv3 capture to a Homer/heplify collector', {
    address: str('collector address', { pattern: ADDRESS }),
    port: withDefault(int('collector UDP port', 1, 65535), 9060),
    captureId: withDefault(int('HEP capture agent id', 0, 2 ** 31 - 1), 2001),
  })),
});

const srtp = obj('SRTP enforcement (S-MEDIA-1)', {
  policy: withDefault(oneOf('strict: refuse calls without SRTP; audit: forward and count', ['strict', 'audit'] as const), 'strict'),
  allowedSuites: optional(list('crypto suites accepted in a=crypto', str('suite'))),
  allowDtlsSrtp: withDefault(bool('accept DTLS-SRTP offers without a=crypto'), false),
});

const IP_ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$/;

const media = obj('media anchoring through rtpengine (issue 14); absent: no call can be anchored', {
  rtpengine: obj('rtpengine instances spoken to over the ng protocol (docs/media.md)', {
    instances: list('instances; every command of a call goes to the one holding it, new calls spread by weight over those answering their ping', obj('an rtpengine instance', {
      name: optional(str('label used in logs and metrics (default address:port)', { pattern: /^[A-Za-z0-9_.:-]+$/ })),
      address: str('its ng control address (--listen-ng), an IP address', { pattern: IP_ADDRESS, patternText: 'an IPv4 or IPv6 address' }),
      port: int('its ng control UDP port', 1, 65535),
      weight: withDefault(int('share of new calls relative to the other instances; 0 takes none', 0, 1000), 1),
    }), { minLength: 1 }),
    timeoutMs: withDefault(int('deadline of one ng command, all its sends together; after it the instance is marked down and the call fails with 503', 50, 30_000), 1000),
    retries: withDefault(int('retransmissions of a command (same datagram, same cookie) within timeoutMs', 0, 10), 2),
    pingIntervalSeconds: withDefault(int('ng ping period per instance; a failed ping marks it down, the next answered one up', 1, 3600), 5),
    interfaces: defaulted(obj('rtpengine logical interface names (its --interface NAME/IP) of the two sides', {
      inside: withDefault(str('toward PBXs and carriers'), 'inside'),
      outside: withDefault(str('toward the vendor'), 'outside'),
    })),
  }),
});

export const configSchema = obj('sips-edge configuration', {
  edge: obj('this edge', {
    name: hostName('the edge\'s certificate host name: the vendor validates it; written in the outside Record-Route'),
    drainTimeoutSeconds: withDefault(int('SIGTERM: how long existing transactions may finish', 0, 3600), 30),
    workers: withDefault(workerCount('worker processes, each running the whole SIP stack on shared SO_REUSEPORT listeners (docs/workers.md): auto = one per core; 1 = a single process. Global limits are divided among them'), 1),
    workerHeapMb: optional(int('V8 old-space heap limit of each worker (--max-old-space-size, MB); default Node\'s own', 64, 65_536)),
    warmupCalls: withDefault(int('synthetic calls run through a private copy of the parser, transaction layer and proxy core before the listeners bind (each worker, each restart), so the first real calls meet compiled code; 0 = none', 0, 100_000), 1000),
    warmupLoopbackCalls: withDefault(int('then calls through a private stack on loopback sockets (UDP in, TCP out, 127.0.0.1 ephemeral ports), so the socket paths (dgram, stream reads, framer, flows, pool) are compiled too; 0 = none', 0, 10_000), 300),
    routeKeys: optional(obj('keys signing the edge\'s Record-Route entries (HMAC): the first signs, all verify; instances sharing them route each other\'s dialogs. None: a random key per start (in-dialog requests do not survive a restart)', {
      env: optional(str('environment variable holding keys, comma-separated (at least 16 characters each)')),
      file: optional(str('file with one key per line (at least 16 characters; # comments)')),
      keys: optional(list('keys written in the config (labs and tests; prefer env or file)', str('key', { pattern: /^.{16,}$/, patternText: 'at least 16 characters' }))),
    })),
  }),
  listen: list('listening sockets', listener, { minLength: 1 }),
  tls: defaulted(tls),
  timers: defaulted(timers),
  limits: defaulted(limits),
  regionsFile: optional(str('regions table (default: config/regions.yaml shipped with sips-edge)')),
  trunks: withDefault(list('trunks toward the vendor', trunk), []),
  peers: withDefault(list('inside peers', peer), []),
  routing: defaulted(routing),
  dns: defaulted(dns),
  srtp: defaulted(srtp),
  admin: defaulted(admin),
  logging: defaulted(logging),
  media: optional(media),
});

export type EdgeConfig = Infer<typeof configSchema>;
export type ListenerConfig = EdgeConfig['listen'][number];
export type TrunkConfig = EdgeConfig['trunks'][number];
export type PeerConfig = EdgeConfig['peers'][number];
