// The room endpoints on the default backend: a real SQLite file in a fresh data directory.
import { roomsApiSuite } from './rooms-suite.ts';

roomsApiSuite(() => ({}));
