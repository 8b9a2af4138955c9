/** The tunekit API contract: zod schemas for every request and object, and the route table. */
export * from './adapters';
export * from './chat';
export * from './common';
export * from './files';
export * from './graders';
export * from './health';
export * from './jobs';
export * from './models';
export * from './routes';
