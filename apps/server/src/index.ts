/** The server as a library, for tests and embedding. */
export { buildConfig, loadConfig, type ServerConfig } from './config.ts';
export { createLog, type Log, silentLog } from './log.ts';
export { type RunningServer, type StartOptions, startServer } from './server.ts';
