// The articles library: JATS article packages for the publishing pipeline, from the package's
// name to its web outputs. Plain TypeScript that throws typed errors; the activities map them
// to ApplicationFailures.
export * from './package-name';
export * from './expand-zip';
export * from './asset-refs';
export * from './xml-tree';
export * from './jats';
export * from './web-figures';
export * from './article-record';
