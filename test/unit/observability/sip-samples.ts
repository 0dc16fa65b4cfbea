/** Realistic SIP with SDES keys, shared by the observability tests. */
export const SRTP_KEY = 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';
export const SRTP_KEY_2 = 'PS1uQCVeeDNtQ1ZtbDp0U2lqJk4mMjI0OUhPNEZw';
export const CALL_ID = 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6@pbx.example.net';

function sdp(key: string, port: number): string {
  return [
    'v=0',
    'o=- 4711 1 IN IP4 192.0.2.10',
    's=-',
    'c=IN IP4 192.0.2.10',
    't=0 0',
    `m=audio ${port} RTP/SAVP 0 8 101`,
    `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}|2^31|1:1`,
    'a=rtpmap:101 telephone-event/8000',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

export function invite(key = SRTP_KEY): Buffer {
  const body = sdp(key, 40000);
  return Buffer.from([
    'INVITE sip:+4930123456@edge.example.com;transport=tls SIP/2.0',
    'Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK776asdhds',
    'Max-Forwards: 70',
    'To: <sip:+4930123456@edge.example.com>',
    'From: "Alice" <sip:+4940999@pbx.example.net>;tag=1928301774',
    `Call-ID: ${CALL_ID}`,
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@192.0.2.10:5061;transport=tls>',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n'), 'utf8');
}

export function ok200(key = SRTP_KEY_2): Buffer {
  const body = sdp(key, 50000);
  return Buffer.from([
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK776asdhds',
    'To: <sip:+4930123456@edge.example.com>;tag=a6c85cf',
    'From: "Alice" <sip:+4940999@pbx.example.net>;tag=1928301774',
    `Call-ID: ${CALL_ID}`,
    'CSeq: 314159 INVITE',
    'Contact: <sip:edge@198.51.100.1:5061;transport=tls>',
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n'), 'utf8');
}
