/**
 * The vendor side of the lab's media: the simulated region's endpoint, SRTP only (RTP/SAVP with
 * SDES, S-SRTP). It decrypts with the key in the a=crypto the edge wrote toward it and encrypts with
 * the key in its own a=crypto (RFC 4568 §6.1; see call-media.ts), so every packet it counts as
 * authenticated proves the edge's side of the keying, and every payloadOk that the carrier counts
 * proves the edge decrypted the vendor's packets with the vendor's key.
 */
import { CallMedia } from './call-media.js';
import type { SrtpSuite } from './srtp.js';

export function openVendorMedia(o: { readonly user?: string; readonly address?: string; readonly suites?: readonly SrtpSuite[] } = {}): Promise<CallMedia> {
  return CallMedia.open({
    mode: 'srtp',
    user: o.user ?? 'vendor',
    ...(o.address !== undefined ? { address: o.address } : {}),
    ...(o.suites !== undefined ? { suites: o.suites } : {}),
  });
}
