// Membership and room-creation rules (rooms-membership-rules-suite.ts) on SQLite.
import { roomsMembershipRulesSuite } from './rooms-membership-rules-suite.ts';

roomsMembershipRulesSuite(() => ({}));
