/** observability/: the only importer of pino and prom-client. Core layers publish; this turns it into logs and metrics. */
export { createLogger, componentLogger, logSipTrace, logTransactionOutcome, pinoOptions, SECRET_FIELDS, startLine, hostPort } from './logger.js';
export type { Logger, LoggerOptions, SipTrace, TransactionOutcome } from './logger.js';
export { formatPrettyLine, prettyDestination } from './pretty.js';
export { EdgeMetrics, createMetrics, METRIC_PREFIX } from './metrics.js';
export type { MetricsOptions, ProbeObservation, UpstreamChange } from './metrics.js';
export { createProxyObserver } from './proxy-observer.js';
export type { ObservabilityProxyObserver, ObserverSinks } from './proxy-observer.js';
export { attachTransportEvents } from './transport-observer.js';
export type { TransportEventSource, TransportObserverSinks, ObservedTransportEvents } from './transport-observer.js';
export { startAdminServer, notReady, readinessFrom } from './admin-http.js';
export type { AdminServer, AdminServerOptions, Readiness, ReadinessReport } from './admin-http.js';
export { createHepSender, encodeHep3, decodeHep3, ipv6Bytes, HEP_CHUNK, HEP_FAMILY, HEP_PROTO_SIP } from './hep.js';
export type { HepSender, HepConfig, HepPacket, HepResult, HepAddress, HepChunk } from './hep.js';
export { createKeyLog, KEYLOG_FILE_MODE } from './keylog.js';
export type { KeyLog } from './keylog.js';
export { createSipTap, sipTapEnabled } from './sip-tap.js';
export type { SipTap, SipTapMessage } from './sip-tap.js';
