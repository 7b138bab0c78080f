import { assert, assertEquals } from "@std/assert";
import { helloProof } from "../../lib/protocol/admission.ts";
import { encodeBase64Url, newRoomId } from "../../lib/protocol/ids.ts";
import { checkHelloProofNow, hashTokenNow } from "../../lib/server/server_crypto.ts";

Deno.test("the server's synchronous hello check accepts exactly the proofs the WebCrypto client computes", async () => {
  for (let i = 0; i < 50; i++) {
    const verifier = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
    const other = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
    const nonce = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
    const room = newRoomId();
    const proof = await helloProof(verifier, room, nonce);
    assert(checkHelloProofNow(verifier, room, nonce, proof));
    assert(!checkHelloProofNow(other, room, nonce, proof), "another room key");
    assert(!checkHelloProofNow(verifier, newRoomId(), nonce, proof), "another room");
    assert(!checkHelloProofNow(verifier, room, nonce.slice(1) + "A", proof), "another nonce: a replay");
    assert(!checkHelloProofNow(verifier, room, nonce, proof.slice(0, 42)), "malformed");
    assert(!checkHelloProofNow("not a key", room, nonce, proof));
  }
});

Deno.test("the server's synchronous token hash is SHA-256 in base64url, as WebCrypto computes it", async () => {
  for (const token of ["", "abc", "x".repeat(60), "ünïcødé 🎉"]) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
    assertEquals(hashTokenNow(token), encodeBase64Url(new Uint8Array(digest)));
  }
});
