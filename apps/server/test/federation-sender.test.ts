/** The outbound queue on SQLite (federation-sender-suite.ts). */
import { senderSuite } from './federation-sender-suite.ts';

senderSuite();
