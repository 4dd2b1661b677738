export * from './object-source';
export { folderSource } from './folder-source';
