/**
 * The carrier side of the lab's media: a UA inside the edge that speaks plain RTP only (RTP/AVP,
 * PCMU + telephone-event, rtcp-mux), as a carrier or PBX that cannot do SRTP would. The edge's
 * media anchor (rtpengine) turns its RTP into SRTP toward the vendor and back.
 */
import { CallMedia } from './call-media.js';

export function openCarrierMedia(o: { readonly user?: string; readonly address?: string } = {}): Promise<CallMedia> {
  return CallMedia.open({ mode: 'rtp', user: o.user ?? 'carrier', ...(o.address !== undefined ? { address: o.address } : {}) });
}
