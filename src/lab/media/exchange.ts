/**
 * The two halves of a lab media call over SIP. The answerer answers the offer in its 2xx and starts
 * sending once the offerer's first packet arrives (the offerer has the answer then, and so has a
 * relay between them, which drops what it cannot key yet); the offerer accepts the 2xx answer
 * between ACK and BYE (LabUa.call whileUp), sends, and waits, bounded, for the answerer's packets.
 */
import type { CallMedia } from './call-media.js';

/** Packets each side sends in a lab media call (20 ms apart: one second of audio). */
export const MEDIA_PACKETS = 50;

/** The answerer's half: answer, then send once the offerer's media arrives. */
export function answerWhenHeard(media: CallMedia, packets = MEDIA_PACKETS): void {
  media
    .waitFor((s) => s.received >= 1, 10_000)
    .then(() => media.start({ packets }))
    .catch(() => undefined);
}

/**
 * The offerer's half, between ACK and BYE: accept the 2xx answer, send, and wait (bounded) until the
 * answerer's packets are in. Returns the refusal when the answer was not usable.
 */
export async function mediaExchange(media: CallMedia, answer: string, packets = MEDIA_PACKETS): Promise<string | null> {
  if (!media.accept(answer)) return media.refusal ?? 'answer refused';
  media.start({ packets });
  await media.done();
  await media.waitFor((s) => s.payloadOk >= packets, 3000).catch(() => undefined);
  return null;
}
