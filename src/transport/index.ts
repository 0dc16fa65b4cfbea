/** Public surface of the transport layer. */
export { Transport } from './transport-layer.js';
export type { BoundAddresses, MessageHandler, TransportStats } from './transport-layer.js';
export { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_TRANSPORT_LIMITS } from './transport-options.js';
export type { TransportLimits, TransportOptions } from './transport-options.js';
export { TRANSPORT_ERROR_CODES, TransportError } from './transport-error.js';
export type { TransportErrorCode } from './transport-error.js';
export { TransportEvents } from './transport-events.js';
export type * from './transport-events.js';
export type * from './types.js';
export { endpoint, describeEndpoint } from './types.js';
