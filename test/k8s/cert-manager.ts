/**
 * cert-manager's Issuer and Certificate (cert-manager.io/v1) for the manifest checks: kubernetes-models
 * has no models for them and the project adds no dependency for two kinds. The interfaces follow the
 * fields of cert-manager's CRDs (deploy/crds/cert-manager.io_{issuers,certificates}.yaml), so the strict
 * check of manifests.ts (each document type-checked as a literal of its interface) rejects an unknown
 * or misspelt field, a wrong type, a missing required field and, through the string-literal unions, a
 * value outside an enum. The issuer kinds this project does not use (ACME, Vault, Venafi) are opaque.
 * `validateCertManager` checks what types cannot: one issuer kind per Issuer, names, lifetimes.
 */
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';

type ObjectMeta = NonNullable<IConfigMap['metadata']>;

export const CERT_MANAGER_API = 'cert-manager.io/v1';

/** KeyUsage of the CRD: key usages and extended key usages, as cert-manager spells them. */
export type KeyUsage =
  | 'signing'
  | 'digital signature'
  | 'content commitment'
  | 'key encipherment'
  | 'key agreement'
  | 'data encipherment'
  | 'cert sign'
  | 'crl sign'
  | 'encipher only'
  | 'decipher only'
  | 'any'
  | 'server auth'
  | 'client auth'
  | 'code signing'
  | 'email protection'
  | 's/mime'
  | 'ipsec end system'
  | 'ipsec tunnel'
  | 'ipsec user'
  | 'timestamping'
  | 'ocsp signing'
  | 'microsoft sgc'
  | 'netscape sgc';

export interface IIssuerRef {
  name: string;
  kind?: string;
  group?: string;
}

export interface ISelfSignedIssuer {
  crlDistributionPoints?: string[];
}

export interface ICAIssuer {
  secretName: string;
  crlDistributionPoints?: string[];
  issuingCertificateURLs?: string[];
  ocspServers?: string[];
}

export interface IIssuerSpec {
  acme?: Record<string, unknown>;
  ca?: ICAIssuer;
  selfSigned?: ISelfSignedIssuer;
  vault?: Record<string, unknown>;
  venafi?: Record<string, unknown>;
}

export interface IIssuer {
  apiVersion: typeof CERT_MANAGER_API;
  kind: 'Issuer';
  metadata: ObjectMeta;
  spec: IIssuerSpec;
}

interface ISecretKeySelector {
  name: string;
  key?: string;
}

interface INameConstraintItem {
  dnsDomains?: string[];
  emailAddresses?: string[];
  ipRanges?: string[];
  uriDomains?: string[];
}

export interface ICertificateSpec {
  additionalOutputFormats?: { type: 'DER' | 'CombinedPEM' }[];
  commonName?: string;
  dnsNames?: string[];
  /** A Go duration (`2160h`); at least 1h. */
  duration?: string;
  emailAddresses?: string[];
  encodeUsagesInRequest?: boolean;
  ipAddresses?: string[];
  isCA?: boolean;
  issuerRef: IIssuerRef;
  keystores?: {
    jks?: { create: boolean; alias?: string; password?: string; passwordSecretRef?: ISecretKeySelector };
    pkcs12?: {
      create: boolean;
      password?: string;
      passwordSecretRef?: ISecretKeySelector;
      profile?: 'LegacyRC2' | 'LegacyDES' | 'Modern2023';
    };
  };
  literalSubject?: string;
  nameConstraints?: { critical?: boolean; excluded?: INameConstraintItem; permitted?: INameConstraintItem };
  otherNames?: { oid?: string; utf8Value?: string }[];
  privateKey?: {
    algorithm?: 'RSA' | 'ECDSA' | 'Ed25519';
    encoding?: 'PKCS1' | 'PKCS8';
    rotationPolicy?: 'Never' | 'Always';
    size?: number;
  };
  /** A Go duration; at least 5m. */
  renewBefore?: string;
  renewBeforePercentage?: number;
  revisionHistoryLimit?: number;
  secretName: string;
  secretTemplate?: { annotations?: Record<string, string>; labels?: Record<string, string> };
  signatureAlgorithm?:
    | 'SHA256WithRSA'
    | 'SHA384WithRSA'
    | 'SHA512WithRSA'
    | 'ECDSAWithSHA256'
    | 'ECDSAWithSHA384'
    | 'ECDSAWithSHA512'
    | 'PureEd25519';
  subject?: {
    countries?: string[];
    localities?: string[];
    organizationalUnits?: string[];
    organizations?: string[];
    postalCodes?: string[];
    provinces?: string[];
    serialNumber?: string;
    streetAddresses?: string[];
  };
  uris?: string[];
  usages?: KeyUsage[];
}

export interface ICertificate {
  apiVersion: typeof CERT_MANAGER_API;
  kind: 'Certificate';
  metadata: ObjectMeta;
  spec: ICertificateSpec;
}

const ISSUER_KINDS = ['acme', 'ca', 'selfSigned', 'vault', 'venafi'] as const;

/** Go's time.ParseDuration units, as cert-manager reads durations; the result in seconds. */
export function goDurationSeconds(text: string): number {
  const units: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text)
    throw new Error(`not a Go duration: ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * (units[p[2] ?? ''] ?? NaN), 0);
}

/** What the API server and cert-manager's webhook refuse that the types cannot say; throws. */
export function validateCertManager(object: Record<string, unknown>): void {
  const where = `${String(object.kind)} ${String((object.metadata as ObjectMeta | undefined)?.name)}`;
  if (object.apiVersion !== CERT_MANAGER_API)
    throw new Error(`${where}: apiVersion is not ${CERT_MANAGER_API}`);
  const metadata = object.metadata as ObjectMeta | undefined;
  if (typeof metadata?.name !== 'string' || metadata.name === '')
    throw new Error(`${where}: no metadata.name`);
  const spec = object.spec as Record<string, unknown> | undefined;
  if (spec === undefined || typeof spec !== 'object') throw new Error(`${where}: no spec`);
  if (object.kind === 'Issuer') {
    const kinds = ISSUER_KINDS.filter((k) => spec[k] !== undefined);
    if (kinds.length !== 1)
      throw new Error(`${where}: exactly one issuer kind expected, found ${kinds.length}`);
    const ca = (spec as IIssuerSpec).ca;
    if (ca !== undefined && typeof ca.secretName !== 'string')
      throw new Error(`${where}: ca without secretName`);
    return;
  }
  if (object.kind !== 'Certificate') throw new Error(`${where}: not an Issuer or a Certificate`);
  const certificate = spec as unknown as ICertificateSpec;
  if (typeof certificate.secretName !== 'string' || certificate.secretName === '')
    throw new Error(`${where}: no secretName`);
  if (typeof certificate.issuerRef?.name !== 'string') throw new Error(`${where}: no issuerRef.name`);
  if (
    certificate.literalSubject !== undefined &&
    (certificate.commonName ?? certificate.subject) !== undefined
  )
    throw new Error(`${where}: literalSubject with commonName or subject`);
  if (certificate.renewBefore !== undefined && certificate.renewBeforePercentage !== undefined)
    throw new Error(`${where}: renewBefore with renewBeforePercentage`);
  const duration = goDurationSeconds(certificate.duration ?? '2160h');
  if (duration < 3600) throw new Error(`${where}: duration under 1h`);
  if (certificate.renewBefore !== undefined) {
    const renewBefore = goDurationSeconds(certificate.renewBefore);
    if (renewBefore < 300 || renewBefore >= duration)
      throw new Error(`${where}: renewBefore must be at least 5m and less than the duration`);
  }
  const names = [
    certificate.commonName,
    certificate.literalSubject,
    ...(certificate.dnsNames ?? []),
    ...(certificate.ipAddresses ?? []),
    ...(certificate.uris ?? []),
    ...(certificate.emailAddresses ?? []),
  ];
  if (!names.some((n) => n !== undefined && n !== ''))
    throw new Error(`${where}: no name (commonName, literalSubject or a subjectAltName)`);
}
