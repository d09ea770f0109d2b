"""matrix-nio (Debian python3-matrix-nio) runs issue 5's client story against a weft-server.

Input (JSON on stdin): {"url": ..., "server_name": ..., "messages": N}.
Output (JSON on stdout): what each step returned and what each client saw, so the TypeScript
test asserts on it. nio calls the legacy /_matrix/client/r0 paths with the access_token query
parameter, and validates every response against its own JSON schemas (a response that does not
match comes back as an *Error object, which this script reports).
"""
import asyncio
import json
import sys

from nio import (
    AsyncClient,
    JoinResponse,
    MessageDirection,
    ReceiptEvent,
    RegisterResponse,
    RoomCreateResponse,
    RoomMemberEvent,
    RoomMessagesResponse,
    RoomMessageText,
    RoomPreset,
    SyncResponse,
    TypingNoticeEvent,
)

PASSWORD = "correct horse battery staple"
BIG_TIMELINE = {"room": {"timeline": {"limit": 500}}}


def fail(step, response):
    raise RuntimeError(f"{step}: {type(response).__name__}: {getattr(response, 'message', response)}")


async def sync(client, since, timeout=0):
    response = await client.sync(timeout=timeout, since=since, sync_filter=BIG_TIMELINE)
    if not isinstance(response, SyncResponse):
        fail("sync", response)
    return response


async def sync_until(client, since, room_id, found, what, rounds=40):
    """Incremental syncs (long-poll 2 s) until found(joined_room_info) returns a value."""
    token = since
    for _ in range(rounds):
        response = await sync(client, token, timeout=2000)
        token = response.next_batch
        room = response.rooms.join.get(room_id) or response.rooms.leave.get(room_id)
        if room is not None:
            value = found(room)
            if value is not None:
                return value, token
    raise RuntimeError(f"never saw {what}")


async def main(params):
    url = params["url"]
    count = params["messages"]
    out = {}
    alice = AsyncClient(url, "alice")
    bob = AsyncClient(url, "bob")
    try:
        for name, client in (("alice", alice), ("bob", bob)):
            response = await client.register(name, PASSWORD, device_name=f"nio {name}")
            if not isinstance(response, RegisterResponse):
                fail("register", response)
            out[f"{name}_user_id"] = response.user_id
            out[f"{name}_device_id"] = response.device_id

        alice_token = (await sync(alice, None)).next_batch
        bob_token = (await sync(bob, None)).next_batch

        created = await alice.room_create(name="nio story", preset=RoomPreset.private_chat)
        if not isinstance(created, RoomCreateResponse):
            fail("room_create", created)
        room_id = created.room_id
        out["room_id"] = room_id

        invited = await alice.room_invite(room_id, out["bob_user_id"])
        if type(invited).__name__ != "RoomInviteResponse":
            fail("room_invite", invited)
        for _ in range(40):
            response = await sync(bob, bob_token, timeout=2000)
            bob_token = response.next_batch
            if room_id in response.rooms.invite:
                out["bob_saw_invite"] = True
                break
        joined = await bob.join(room_id)
        if not isinstance(joined, JoinResponse):
            fail("join", joined)

        event_ids = []
        for i in range(count):
            sender = alice if i % 2 == 0 else bob
            sent = await sender.room_send(
                room_id, "m.room.message", {"msgtype": "m.text", "body": f"message {i}"}
            )
            if type(sent).__name__ != "RoomSendResponse":
                fail("room_send", sent)
            event_ids.append(sent.event_id)
        out["sent_event_ids"] = event_ids

        # Both see every message through incremental sync, in order.
        for name, client, token in (("alice", alice, alice_token), ("bob", bob, bob_token)):
            bodies = []
            for _ in range(40):
                response = await sync(client, token, timeout=2000)
                token = response.next_batch
                room = response.rooms.join.get(room_id)
                if room is not None:
                    bodies += [e.body for e in room.timeline.events if isinstance(e, RoomMessageText)]
                if len(bodies) >= count:
                    break
            out[f"{name}_sync_bodies"] = bodies
            if name == "alice":
                alice_token = token
            else:
                bob_token = token

        # Paginate history backwards from the end with room_messages.
        start = alice_token
        back = []
        pages = 0
        while pages < 50:
            page = await alice.room_messages(room_id, start, direction=MessageDirection.back, limit=30)
            if not isinstance(page, RoomMessagesResponse):
                fail("room_messages", page)
            pages += 1
            back += [e.body for e in page.chunk if isinstance(e, RoomMessageText)]
            if not page.chunk or page.end is None or page.end == start:
                break
            start = page.end
        out["back_bodies"] = back
        out["back_pages"] = pages

        # Typing: bob types, alice sees it in her sync's ephemeral events.
        typing = await bob.room_typing(room_id, True, timeout=10000)
        if type(typing).__name__ != "RoomTypingResponse":
            fail("room_typing", typing)

        def typing_users(room):
            for e in room.ephemeral:
                if isinstance(e, TypingNoticeEvent) and e.users:
                    return e.users
            return None

        out["typing_users"], alice_token = await sync_until(
            alice, alice_token, room_id, typing_users, "typing"
        )

        # Receipts and read markers: bob marks the last message read.
        last = event_ids[-1]
        markers = await bob.room_read_markers(room_id, last, last)
        if type(markers).__name__ != "RoomReadMarkersResponse":
            fail("room_read_markers", markers)
        receipt = await bob.update_receipt_marker(room_id, event_ids[-2])
        if type(receipt).__name__ != "UpdateReceiptMarkerResponse":
            fail("update_receipt_marker", receipt)

        def receipts(room):
            found = [
                {"event_id": r.event_id, "user_id": r.user_id, "receipt_type": r.receipt_type}
                for e in room.ephemeral
                if isinstance(e, ReceiptEvent)
                for r in e.receipts
            ]
            return found or None

        out["receipts"], alice_token = await sync_until(
            alice, alice_token, room_id, receipts, "receipts"
        )

        # Profile: alice changes her displayname, bob sees the new member event.
        renamed = await alice.set_displayname("Alice N.")
        if type(renamed).__name__ != "ProfileSetDisplayNameResponse":
            fail("set_displayname", renamed)
        profile = await bob.get_displayname(out["alice_user_id"])
        out["profile_displayname"] = getattr(profile, "displayname", None)

        def alice_member(room):
            for e in room.timeline.events:
                if isinstance(e, RoomMemberEvent) and e.state_key == out["alice_user_id"]:
                    if e.content.get("displayname") == "Alice N.":
                        return e.content
            return None

        out["alice_member_content"], bob_token = await sync_until(
            bob, bob_token, room_id, alice_member, "displayname change"
        )

        # Bob leaves; alice sees his leave.
        left = await bob.room_leave(room_id)
        if type(left).__name__ != "RoomLeaveResponse":
            fail("room_leave", left)

        def bob_left(room):
            for e in room.timeline.events:
                if isinstance(e, RoomMemberEvent) and e.state_key == out["bob_user_id"]:
                    if e.membership == "leave":
                        return e.membership
            return None

        out["bob_membership_at_alice"], alice_token = await sync_until(
            alice, alice_token, room_id, bob_left, "bob's leave"
        )
        members = await alice.joined_members(room_id)
        out["joined_after_leave"] = sorted(m.user_id for m in getattr(members, "members", []))
    finally:
        await alice.close()
        await bob.close()
    return out


print(json.dumps(asyncio.run(main(json.load(sys.stdin)))))
