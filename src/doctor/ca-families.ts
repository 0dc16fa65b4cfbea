/**
 * S-TRUST-4: the CA families whose roots the vendor's proxies trust for the customer's (the edge's)
 * certificate. Matched against the root's subject organisation and common name, case-insensitive.
 */
export interface CaFamily {
  readonly family: string;
  /** Any of these, as a word inside O= or CN=, identifies the family. */
  readonly marks: readonly RegExp[];
}

export const TRUSTED_CA_FAMILIES: readonly CaFamily[] = [
  { family: 'Actalis', marks: [/\bactalis\b/i] },
  { family: 'Amazon Trust Services', marks: [/\bamazon\b/i, /\bstarfield services\b/i] },
  { family: 'Certum', marks: [/\bcertum\b/i, /\bunizeto\b/i, /\basseco\b/i] },
  { family: 'Deutsche Telekom / T-TeleSec', marks: [/\bdeutsche telekom\b/i, /\bt-telesec\b/i, /\bt-systems\b/i] },
  { family: 'DigiCert / QuoVadis / Symantec / Thawte / VeriSign', marks: [/\bdigicert\b/i, /\bquovadis\b/i, /\bsymantec\b/i, /\bthawte\b/i, /\bverisign\b/i, /\bgeotrust\b/i] },
  { family: 'Entrust / SSL.com', marks: [/\bentrust\b/i, /\bssl\.com\b/i, /\bssl corporation\b/i] },
  { family: 'GlobalSign', marks: [/\bglobalsign\b/i] },
  { family: 'GoDaddy / Starfield', marks: [/\bgo ?daddy\b/i, /\bstarfield\b/i] },
  { family: 'HARICA', marks: [/\bharica\b/i, /hellenic academic and research institutions/i] },
  { family: 'IdenTrust', marks: [/\bidentrust\b/i] },
  { family: "Internet Security Research Group (Let's Encrypt)", marks: [/internet security research group/i, /\bisrg\b/i, /let'?s encrypt/i] },
  { family: 'Network Solutions', marks: [/\bnetwork solutions\b/i] },
  { family: 'Sectigo / AddTrust / Comodo / UserTrust', marks: [/\bsectigo\b/i, /\baddtrust\b/i, /\bcomodo\b/i, /\busertrust\b/i, /\bthe usertrust network\b/i] },
  { family: 'SwissSign', marks: [/\bswisssign\b/i] },
  { family: 'Telia / TeliaSonera', marks: [/\btelia\b/i, /\bteliasonera\b/i] },
  { family: 'Trustwave / SecureTrust / Viking Cloud', marks: [/\btrustwave\b/i, /\bsecuretrust\b/i, /\bviking cloud\b/i, /\bxramp\b/i] },
];

/** Organisation of the certificates `sips-edge certs lab` writes (src/tls/lab-pki.ts). */
export const LAB_ORGANISATION = 'sips-edge lab';

/** Values of one attribute (e.g. 'O', 'CN') in a Node X509Certificate subject/issuer string. */
export function nameAttribute(dn: string, attr: string): string[] {
  return dn.split('\n').filter((l) => l.startsWith(`${attr}=`)).map((l) => l.slice(attr.length + 1));
}

/** The family a root belongs to, judged by its subject O= and CN= (a root's issuer is its subject). */
export function caFamilyOf(subject: string): CaFamily | undefined {
  const text = [...nameAttribute(subject, 'O'), ...nameAttribute(subject, 'CN')].join(' | ');
  return TRUSTED_CA_FAMILIES.find((f) => f.marks.some((m) => m.test(text)));
}

export function isLabRoot(subject: string): boolean {
  return nameAttribute(subject, 'O').includes(LAB_ORGANISATION);
}
