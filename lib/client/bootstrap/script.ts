/**
 * The room page's inline bootstrap: a classic script in `<head>` that runs
 * while the HTML is still being parsed, long before the module graph has
 * arrived. It opens the signaling WebSocket and keeps the frames it receives
 * (the server's first frame is the `challenge`), and starts WebCrypto on the
 * key in the fragment: the AES-GCM room key and the admission key A
 * (HKDF-SHA-256, see `lib/protocol/admission.ts`). It leaves both in one
 * global slot ({@link BOOTSTRAP_SLOT}) that the island takes when it
 * hydrates (`handoff.ts`).
 *
 * Nothing about the key leaves the page: the socket's URL carries the room id
 * from the path only, and the derived keys stay in memory (the AES key is
 * non-extractable). A fragment that is not a canonical 43-character key
 * starts nothing; the island then shows why the link cannot work.
 *
 * The script's text is the same on every room page and in every language, so
 * a Content-Security-Policy can allow it by hash (`script-src 'sha256-...'`).
 * @module
 */
import { ADMISSION_INFO, ADMISSION_KEY_BYTES } from "../../protocol/admission.ts";
import { ROOM_ID_PATTERN } from "../../protocol/ids.ts";
import { PROTOCOL_VERSION } from "../../protocol/version.ts";
import { BOOTSTRAP_SLOT } from "./slot.ts";

/**
 * A canonical room key: 43 base64url characters whose last one carries no
 * spare bits (32 bytes leave 2 unused bits, which must be zero).
 */
const CANONICAL_KEY = "^[\\w-]{42}[AEIMQUYcgkosw048]$";

/**
 * The bootstrap's source. Short names because it travels in every room page;
 * `b.r` room id, `b.w` WebSocket, `b.f` frames received before the island
 * took the socket, `b.k` promise of [AES-GCM CryptoKey, admission key bytes].
 * A hash change is another key: the page starts over (as the island does).
 */
export const BOOTSTRAP_SCRIPT: string = `((g,l)=>{` +
  `var r=l.pathname.slice(1),k=l.hash.slice(1),b={r,f:[]},s,d,t;` +
  `if(!/${ROOM_ID_PATTERN.source}/.test(r)||!/${CANONICAL_KEY}/.test(k))return;` +
  `g.${BOOTSTRAP_SLOT}=b;` +
  `try{b.w=new WebSocket("ws"+(l.protocol=="https:"?"s":"")+"://"+l.host+` +
  `"/api/signal?v=${PROTOCOL_VERSION}&room="+r);b.w.onmessage=e=>b.f.push(e.data)}catch(e){}` +
  `try{s=crypto.subtle;t=new TextEncoder;` +
  `d=Uint8Array.from(atob(k.replace(/-/g,"+").replace(/_/g,"/")),c=>c.charCodeAt(0));` +
  `b.k=Promise.all([s.importKey("raw",d,"AES-GCM",!1,["encrypt","decrypt"]),` +
  `s.importKey("raw",d,"HKDF",!1,["deriveBits"]).then(i=>s.deriveBits(` +
  `{name:"HKDF",hash:"SHA-256",salt:t.encode(r),info:t.encode(${JSON.stringify(ADMISSION_INFO)})},i,${
    ADMISSION_KEY_BYTES * 8
  }))]);b.k.catch(()=>{})}catch(e){}` +
  `addEventListener("hashchange",()=>l.reload())` +
  `})(self,location)`;
