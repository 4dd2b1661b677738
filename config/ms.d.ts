// `ms` is the duration parser the Temporal SDK itself uses, so "14d" means the same to custody
// and to Temporal. It ships its types without a "types" export condition, which a CommonJS
// import under "moduleResolution": "nodenext" does not find; this declares what custody uses.
// StringValue stays a plain string: config durations are checked at start-up (config.ts), and
// the SDK's own Duration type (StringValue | number) resolves through this declaration too.
declare module 'ms' {
  export type StringValue = string;
  /** Milliseconds in a duration string such as "30s" or "14d"; NaN when it is not one. Throws on an empty string. */
  export default function ms(value: StringValue): number;
}
