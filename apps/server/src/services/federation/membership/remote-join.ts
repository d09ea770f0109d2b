/**
 * Joining a room that lives on another server, from the client API (spec server-server-api
 * "Joining Rooms", https://spec.matrix.org/v1.19/server-server-api/#joining-rooms):
 * 1. ask each candidate resident server in turn (`server_name`/`via`, the alias' or invite's
 *    server, the room ID's server) for a join template: `GET /v1/make_join` with every room
 *    version this server supports as `ver`;
 * 2. fill in the user's profile, `origin` and `origin_server_ts`, sign it (@weft/signing
 *    `signEvent`) and compute its event ID;
 * 3. `PUT /v2/send_join` it to the same server;
 * 4. for a restricted room's join (`join_authorised_via_users_server`, kept from the template),
 *    take the answer's `event`'s signatures — the authorising resident server's — onto the join;
 *    verify the returned state and auth chain (verify-room-state.ts; the per-PDU checks of a big
 *    answer on worker threads, verify-parallel.ts) and the join against them;
 * 5. store the room locally (store-remote-room.ts).
 */
import { checkAuth, type DagEvent, type RoomVersionRules } from '@weft/dag';
import type { KeyLookup } from '@weft/signing';
import { MatrixError } from '@weft/transport';

import { stateMapOf } from '../../rooms/auth.ts';
import { cleanProfile } from '../../rooms/create-room.ts';
import type { RoomService } from '../../rooms/service.ts';
import { joinAuthorisedVia } from '../required-signers.ts';
import { candidateServers, throughCandidateServers } from './candidate-servers.ts';
import { PduFeed } from './pdu-feed.ts';
import { SendJoinBodyReader } from './send-join-body.ts';
import { fetchMembershipTemplate, signMembershipTemplate } from './sign-template.ts';
import { EarlyOutliers } from './store-outliers.ts';
import { storeRemoteRoom } from './store-remote-room.ts';
import { type FederationDeps, type StreamingFederationRequest, withOwnKey } from './types.ts';
import {
  prepareVerifyWorkers,
  verifyRoomStateParallel,
  verifyStreamedRoomState,
} from './verify-parallel.ts';
import { type VerifiedPdu, verifyReceivedPdu } from './verify-received.ts';
import type { VerifiedRoomState } from './verify-room-state.ts';

/** Joins local `userId` to remote `roomId` through one of `via`; returns the room ID. */
export async function joinRemoteRoom(
  rooms: RoomService,
  deps: FederationDeps,
  options: {
    readonly roomId: string;
    readonly userId: string;
    readonly via: readonly string[];
    readonly reason?: string | undefined;
  },
): Promise<string> {
  const { roomId } = options;
  const servers = candidateServers(roomId, options.via, rooms.ctx.config.serverName);
  await throughCandidateServers(rooms.ctx, { action: 'join', roomId }, servers, (server) =>
    joinThrough(rooms, deps, server, options),
  );
  return roomId;
}

async function joinThrough(
  rooms: RoomService,
  deps: FederationDeps,
  server: string,
  options: {
    readonly roomId: string;
    readonly userId: string;
    readonly reason?: string | undefined;
  },
): Promise<void> {
  const { roomId, userId } = options;
  // The verify workers load their modules (≈ 0.3 s of CPU each) while make_join and send_join
  // are answered, not after: kept for the process, so only its first join pays.
  prepareVerifyWorkers();
  // The resident server signed the room's first events: its key is fetched while make_join and
  // send_join are answered, not in the first moments of the answer, when the event loop is
  // busiest and the verify workers wait for keys.
  void deps.warmKeys?.(server);
  const {
    roomVersion,
    rules,
    template: templateEvent,
  } = await fetchMembershipTemplate(deps, server, 'make_join', roomId, userId);
  const profile = cleanProfile(await rooms.profileOf(rooms.ctx.db, userId));
  const { signed, eventId } = signMembershipTemplate(rooms, templateEvent, {
    rules,
    roomId,
    userId,
    content: {
      ...(templateEvent['content'] as Record<string, unknown> | undefined),
      membership: 'join',
      ...profile,
      ...(options.reason === undefined ? {} : { reason: options.reason }),
    },
  });
  const path = `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`;
  // A big answer's events are stored as they pass their checks (store-outliers.ts).
  const early = new EarlyOutliers(rooms.ctx.db, roomId, eventId);
  const started = performance.now();
  // CPU from here when the answer is read as it arrives (the check overlaps it), else from the
  // start of the check.
  let cpuBefore = process.cpuUsage();
  let threadCpuBefore = process.threadCpuUsage();
  let state: unknown[] = [];
  let chain: unknown[] = [];
  let answered = started;
  let keysFetched = started;
  let verified: VerifiedRoomState;
  let verifyCpu: NodeJS.CpuUsage;
  let verifyThreadCpu: NodeJS.CpuUsage;
  let checked: number;
  // The check of an answer read as it arrives runs alongside the read (settled before cleanup).
  let verifying: Promise<VerifiedRoomState> | undefined;
  // The answer's `event`: the join as the resident server signed it (send_join v2).
  let answerEvent: unknown;
  let join: VerifiedPdu = {
    eventId,
    pdu: signed,
    dag: { ...(signed as unknown as DagEvent), event_id: eventId },
  };
  try {
    if (deps.requestStreaming === undefined) {
      const response = await deps.request(server, 'PUT', path, signed);
      ({ state, chain } = answerLists(response));
      answerEvent = response['event'];
      answered = performance.now();
      const lookup = await deps.keys([...state, ...chain]);
      keysFetched = performance.now();
      cpuBefore = process.cpuUsage();
      threadCpuBefore = process.threadCpuUsage();
      verified = await verifyRoomStateParallel(
        state,
        chain,
        rules,
        withOwnKey(rooms.ctx, lookup),
        undefined,
        undefined,
        early,
      );
    } else {
      // Checked while it arrives: the PDUs go to the check (and the workers) as their keys are
      // known, so the resident server's answer and the transfer overlap the verification.
      const feed = new PduFeed();
      let lookup: KeyLookup | undefined;
      const answer = readAnswer(deps, deps.requestStreaming, server, path, signed, feed, (l) => {
        lookup = l;
      });
      answer.catch(() => undefined);
      verifying = verifyStreamedRoomState(
        feed,
        rules,
        withOwnKey(rooms.ctx, (entity, keyId, ts) => lookup?.(entity, keyId, ts)),
        undefined,
        undefined,
        early,
      );
      verifying.catch(() => undefined);
      const response = await answer;
      ({ state, chain } = answerLists(response));
      answerEvent = response['event'];
      answered = performance.now();
      keysFetched = answered;
      verified = await verifying;
    }
    // The process's CPU time, worker threads included (nothing else runs much during a join).
    verifyCpu = process.cpuUsage(cpuBefore);
    verifyThreadCpu = process.threadCpuUsage(threadCpuBefore);
    checked = performance.now();
    if (requiresAuthoriser(signed, rules)) {
      join = await countersignedJoin(rooms, deps, rules, signed, eventId, answerEvent);
    }
    // The join must pass the rules against the state the resident server says it joins.
    const authEvents = join.dag.auth_events.flatMap((id) => verified.events.get(id)?.dag ?? []);
    const outcome = checkAuth(join.dag, stateMapOf(authEvents), rules, {
      authEvent: (id) => verified.events.get(id)?.dag,
    });
    if (!outcome.allowed)
      throw MatrixError.forbidden(`The room refuses this join: ${outcome.detail}`);
    await early.flush();
    deps.deliveredByResident?.(eventId);
    await storeRemoteRoom(rooms, roomId, roomVersion, verified, join, early);
  } catch (error) {
    // A check still running (the answer failed or was malformed) writes no more rows first.
    await verifying?.catch(() => undefined);
    await early.discard().catch((cleanup: unknown) => {
      rooms.ctx.log.warn('early outliers not removed', {
        room_id: roomId,
        error: String(cleanup),
      });
    });
    throw error;
  }
  const stored = performance.now();
  // Phase times of a join (the join benchmark reads them; operators see slow joins).
  rooms.ctx.log.info('remote join', {
    room_id: roomId,
    server,
    state_events: state.length,
    auth_chain_events: chain.length,
    rejected: verified.rejected,
    // Rows written while the answer was checked (their time counts in verify_ms).
    stored_early: early.inserted.size,
    // Read as it arrived: send_join_ms is until its last byte, the check ran meanwhile.
    streamed: deps.requestStreaming !== undefined,
    send_join_ms: Math.round(answered - started),
    keys_ms: Math.round(keysFetched - answered),
    verify_ms: Math.round(checked - keysFetched),
    verify_cpu_ms: Math.round((verifyCpu.user + verifyCpu.system) / 1000),
    // This thread's part (the rest is the workers'): balanced, the check takes half on 2 cores.
    verify_thread_cpu_ms: Math.round((verifyThreadCpu.user + verifyThreadCpu.system) / 1000),
    store_ms: Math.round(stored - checked),
  });
}

/**
 * Whether our join is a restricted join (its `join_authorised_via_users_server` kept from the
 * template), so the answer must carry the authorising server's signature: the same decision as
 * the receipt checks' (required-signers.ts `joinAuthorisedVia`).
 */
export function requiresAuthoriser(
  signed: Readonly<Record<string, unknown>>,
  rules: RoomVersionRules,
): boolean {
  return joinAuthorisedVia(signed, rules) !== undefined;
}

/**
 * Spec server-server-api "Joining Rooms" (restricted rooms) and `PUT /v2/send_join`: a join
 * naming a `join_authorised_via_users_server` is only valid with that user's server's signature
 * too (required-signers.ts), which the resident server adds and returns in the answer's `event`.
 * Only its signatures are taken, onto the join we signed (the resident may add a signature, not
 * change the event); the result must pass the receipt checks, the authorising server's
 * signature included — else the join is refused (502: the resident did not sign it).
 */
async function countersignedJoin(
  rooms: RoomService,
  deps: FederationDeps,
  rules: RoomVersionRules,
  signed: Readonly<Record<string, unknown>>,
  eventId: string,
  answerEvent: unknown,
): Promise<VerifiedPdu> {
  const theirs =
    typeof answerEvent === 'object' && answerEvent !== null
      ? (answerEvent as Record<string, unknown>)['signatures']
      : undefined;
  if (typeof theirs !== 'object' || theirs === null || Array.isArray(theirs)) {
    throw new MatrixError(502, 'M_UNKNOWN', 'The send_join answer has no signed join event');
  }
  const ours = signed['signatures'] as Record<string, unknown>;
  const pdu = { ...signed, signatures: { ...(theirs as Record<string, unknown>), ...ours } };
  const lookup = withOwnKey(rooms.ctx, await deps.keys([pdu]));
  let verified: VerifiedPdu;
  try {
    verified = verifyReceivedPdu(pdu, rules, lookup);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new MatrixError(502, 'M_UNKNOWN', `The resident server's signed join: ${detail}`);
  }
  if (verified.eventId !== eventId) {
    throw new MatrixError(502, 'M_UNKNOWN', 'The send_join answer changed the join event');
  }
  return verified;
}

/** The `state` and `auth_chain` arrays of a send_join answer (502 when either is missing). */
function answerLists(response: Record<string, unknown>): { state: unknown[]; chain: unknown[] } {
  const state = response['state'];
  const chain = response['auth_chain'];
  if (!Array.isArray(state) || !Array.isArray(chain)) {
    throw new MatrixError(502, 'M_UNKNOWN', 'Malformed send_join response');
  }
  return { state, chain };
}

/**
 * Sends the join and reads the answer as it arrives (send-join-body.ts): each PDU goes into
 * `feed`, and is released to the check once the keys of its signers are known. Each chunk's
 * key lookup starts as the chunk is read, alongside those of earlier chunks (the key store
 * shares a fetch already running for a server), and chunks are released in arrival order: a
 * signer first seen in a chunk is not waited for behind an earlier chunk's fetch. Resolves to
 * the whole answer; a failed or malformed body fails `feed` with the same error.
 */
async function readAnswer(
  deps: FederationDeps,
  requestStreaming: StreamingFederationRequest,
  server: string,
  path: string,
  signed: Readonly<Record<string, unknown>>,
  feed: PduFeed,
  onLookup: (lookup: KeyLookup) => void,
): Promise<Record<string, unknown>> {
  let asked = 0;
  let released: Promise<void> = Promise.resolve();
  const fetchKeys = (): void => {
    if (asked === feed.pdus.length) return;
    const upto = feed.pdus.length;
    const keys = deps.keys(feed.pdus.slice(asked, upto));
    asked = upto;
    released = Promise.all([keys, released]).then(([lookup]) => {
      onLookup(lookup);
      feed.release(upto);
    });
    // Awaited after the last chunk; a body that fails before then reports its own error.
    released.catch(() => undefined);
  };
  try {
    const answer = await requestStreaming(server, 'PUT', path, signed, async (chunks) => {
      const reader = new SendJoinBodyReader((pdu, list) => feed.add(pdu, list));
      for await (const chunk of chunks) {
        reader.push(chunk);
        // Not awaited: the body keeps being read while keys are fetched.
        fetchKeys();
      }
      const whole = reader.end();
      fetchKeys();
      await released;
      return whole;
    });
    feed.end();
    return answer;
  } catch (error) {
    feed.fail(error);
    throw error;
  }
}
