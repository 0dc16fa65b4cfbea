/**
 * Request-URI rewrite per routing mode (S-URI-2..5). Pure: trunk settings + number + lb host in,
 * SipUri out.
 *
 *   TGRP  sip:+E164;tgrp=<label>;trunk-context=<ns>@<lbNN>:5061;transport=tls   (S-URI-3, RFC 4904)
 *   DNIS  sip:+E164@<lbNN>:5061;transport=tls                                    (S-URI-4)
 *   FQDN  sip:+E164@<fqdn>.<byocDomain>:5061;transport=tls, sent to lbNN          (S-URI-5)
 *   sips: the same without transport=tls (RFC 5630 §3.1.3: sips implies TLS; transport=tls is deprecated)
 */
import { SipsError } from '../errors.js';
import { SipUri } from '../message/uri.js';
import type { TrunkConfig } from '../config/schema.js';
import type { Region } from './regions.js';

export type RoutingMode = 'tgrp' | 'dnis' | 'fqdn';

/** What modes need of a trunk, with region defaults filled in. */
export interface ModeSettings {
  readonly trunk: string;
  readonly mode: RoutingMode;
  readonly scheme: 'sip' | 'sips';
  readonly transport: 'tls' | 'tcp' | 'udp';
  /** TGRP: trunk group label (RFC 4904 `tgrp`). */
  readonly tgrp?: string;
  /** TGRP: trunk-context; defaults to the region's BYOC domain. */
  readonly trunkContext?: string;
  /** FQDN: the whole R-URI host, `<fqdn>.<byocDomain>`. */
  readonly fqdnHost?: string;
  readonly terminationHeader?: { readonly name: string; readonly value: string };
}

/** Fills region defaults; throws SipsError(SIPS_ERR_CONFIG_INVALID) when a mode lacks what it needs. */
export function modeSettings(trunk: TrunkConfig, region: Region | undefined): ModeSettings {
  const base = { trunk: trunk.name, mode: trunk.mode, scheme: trunk.scheme, transport: trunk.transport };
  const th = trunk.terminationHeader === undefined ? {} : { terminationHeader: trunk.terminationHeader };
  switch (trunk.mode) {
    case 'tgrp': {
      const ctx = trunk.trunkContext ?? region?.byocDomain;
      if (trunk.tgrp === undefined) throw bad(trunk, 'tgrp', 'mode tgrp needs the trunk group label');
      if (ctx === undefined) throw bad(trunk, 'trunkContext', 'mode tgrp needs trunkContext when the trunk has no region (no BYOC domain to default to)');
      return { ...base, ...th, tgrp: trunk.tgrp, trunkContext: ctx };
    }
    case 'fqdn': {
      if (trunk.fqdn === undefined) throw bad(trunk, 'fqdn', 'mode fqdn needs the identifier');
      const f = trunk.fqdn.toLowerCase();
      const domain = region?.byocDomain;
      // S-URI-5: <fqdn>.<regional BYOC domain>; without a region the identifier is taken whole.
      const host = domain === undefined || f === domain || f.endsWith(`.${domain}`) ? f : `${f}.${domain}`;
      return { ...base, ...th, fqdnHost: host };
    }
    case 'dnis':
      return { ...base, ...th };
  }
}

function bad(trunk: TrunkConfig, key: string, why: string): SipsError {
  return new SipsError('SIPS_ERR_CONFIG_INVALID', `trunks.${trunk.name}.${key}: ${why}`);
}

/**
 * The Request-URI for one target: `number` as normalised, `host`/`port` = the lb host the request
 * is sent to (not used as R-URI host in FQDN mode).
 */
export function buildRequestUri(s: ModeSettings, number: string, host: string, port: number): SipUri {
  // S-URI-2: tgrp and trunk-context belong to the user part (RFC 4904 §5), transport to the host part.
  const user = s.mode === 'tgrp' ? `${number};tgrp=${s.tgrp ?? ''};trunk-context=${s.trunkContext ?? ''}` : number;
  const uriHost = s.mode === 'fqdn' ? s.fqdnHost ?? host : host;
  const params = s.scheme === 'sips' ? [] : [{ name: 'transport', value: s.transport }];
  return new SipUri({ scheme: s.scheme, user, password: null, host: uriHost.toLowerCase(), port, params, headers: [] });
}

/** The Inbound SIP Termination Header, when configured, as `addHeaders`. */
export function modeHeaders(s: ModeSettings): readonly (readonly [string, string])[] {
  return s.terminationHeader === undefined ? [] : [[s.terminationHeader.name, s.terminationHeader.value]];
}

export interface ModeNote {
  readonly trunk: string;
  readonly code: string;
  readonly message: string;
}

/** Notes to log once per trunk at start (S-URI-4/5): what the operator should expect of the mode. */
export function modeNotes(s: ModeSettings): readonly ModeNote[] {
  if (s.mode === 'fqdn') {
    return [{
      trunk: s.trunk,
      code: 'fqdn-name-validation',
      message: `trunk ${s.trunk}: FQDN mode puts ${s.fqdnHost ?? '?'} in the Request-URI; subject-name validation against that customer-defined name is not expected to succeed (S-URI-5), so the edge connects to the lb hosts and validates their names instead`,
    }];
  }
  if (s.mode === 'dnis') {
    return [{
      trunk: s.trunk,
      code: 'dnis-host-names',
      message: `trunk ${s.trunk}: DNIS mode; the Request-URI carries the lb host name, never an address, so subject-name validation can succeed (S-URI-4); TGRP is the vendor's recommended mode (S-URI-3)`,
    }];
  }
  return [];
}
