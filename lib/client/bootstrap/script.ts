/**
 * The room page's inline bootstrap: a classic script in `<head>` that runs
 * while the HTML is still being parsed, long before the module graph has
 * arrived. It joins the room on its own, so the welcome is on its way before
 * the island has loaded:
 *
 * - it starts WebCrypto on the key in the fragment: the AES-GCM room key and
 *   the admission key A (HKDF-SHA-256, see `lib/protocol/admission.ts`);
 * - it reads what the `hello` needs: this room's state on the device
 *   (IndexedDB, read only: the member key pair and the log position, see
 *   `lib/client/store_idb.ts`; a database that does not exist yet is not made
 *   here; in a browser that never kept a room, per {@link BOOTSTRAP_STORED_FLAG},
 *   it is opened only to warm it up, not waited for) and the tab's session
 *   token (`sessionStorage`, see `lib/client/room/session.ts`); with no stored
 *   key pair it makes one, which the island then keeps as the room's identity;
 * - when the page came from the network with a page nonce (its
 *   `Server-Timing`), it opens the signaling socket with its hello in the
 *   upgrade request ("Early hello" in lib/protocol/README.md): the server
 *   welcomes it without a challenge round trip. Otherwise (a page from the
 *   service worker's cache, an old browser) it opens the socket at once;
 * - it answers a `challenge` with the hello, and a `verifier_required` with
 *   the same hello and the verifier, unless the island took the socket first;
 * - a page left (`pagehide`) before the island took the welcomed socket says
 *   `bye`: no later page can resume that session (its token never reached
 *   `sessionStorage`, and its new member key pair may not be stored either),
 *   so the others should not wait for it as "away" for the resume window.
 *
 * It leaves everything in one global slot ({@link BOOTSTRAP_SLOT}) that the
 * island takes when it hydrates (`handoff.ts`). Nothing about the key leaves
 * the page: the socket's URL carries the room id, and an early hello carries
 * the proofs (single use, bound to the page nonce), never the verifier.
 *
 * The script's text is the same on every room page and in every language, so
 * a Content-Security-Policy can allow it by hash (`script-src 'sha256-...'`).
 * @module
 */
import {
  ADMISSION_INFO,
  ADMISSION_KEY_BYTES,
  EARLY_HELLO_PARAM,
  PAGE_NONCE_PARAM,
  PAGE_NONCE_TIMING,
} from "../../protocol/admission.ts";
import { ROOM_ID_PATTERN } from "../../protocol/ids.ts";
import { PROTOCOL_VERSION } from "../../protocol/version.ts";
import { BOOTSTRAP_SLOT, BOOTSTRAP_STORED_FLAG } from "./slot.ts";

/**
 * A canonical room key: 43 base64url characters whose last one carries no
 * spare bits (32 bytes leave 2 unused bits, which must be zero).
 */
const CANONICAL_KEY = "^[\\w-]{42}[AEIMQUYcgkosw048]$";
/** The IndexedDB database and object store of room states (`lib/client/store_idb.ts`; a test keeps them equal). */
export const BOOTSTRAP_DB = { name: "parley", store: "state" } as const;
/** The `sessionStorage` key prefix of a tab's session (`lib/client/room/session.ts`; a test keeps them equal). */
export const BOOTSTRAP_SESSION_PREFIX = "parley:session:";
/** How long the early hello may take to prepare before the socket opens without it (ms). */
export const EARLY_HELLO_WAIT_MS = 1_000;

/**
 * The bootstrap's source. Short names because it travels in every room page:
 * `b.r` room id, `b.w` WebSocket, `b.f` frames received before the island
 * took the socket, `b.k` promise of [AES-GCM CryptoKey, admission key bytes],
 * `b.p` promise of [admission key bytes, stored room state, session token,
 * member key pair], `b.s` the hello in force on the socket (sent in its URL or
 * as a frame), `b.a` how many of `b.f` (from the first) it has answered,
 * `b.t` set by the island when it takes the socket (the script then sends
 * nothing and opens nothing more), `b.o` a hook the island may set, called
 * after each frame and when the socket closes (`early_status.ts`). Local names: `s` SubtleCrypto, `e`
 * TextEncoder, `u` the socket's URL, `A` promise of the admission key bytes,
 * `B` base64url, `G` a new member key pair (made while IndexedDB is read, used when it holds none), `h` builds the hello for a nonce, `y` sends a frame that
 * answers the frames up to `i`, `c` opens the socket. A hash change is another
 * key: the page starts over (as the island does).
 */
export const BOOTSTRAP_SCRIPT: string = `((g,l,n)=>{` +
  `var r=l.pathname.slice(1),k=l.hash.slice(1),b={r,f:[],a:0},` +
  `u="ws"+(l.protocol=="https:"?"s":"")+"://"+l.host+"/api/signal?v=${PROTOCOL_VERSION}&room="+r,s,e,A,B,G,h,y,c,x;` +
  `if(!/${ROOM_ID_PATTERN.source}/.test(r)||!/${CANONICAL_KEY}/.test(k))return;` +
  `g.${BOOTSTRAP_SLOT}=b;` +
  `B=a=>btoa(String.fromCharCode(...new Uint8Array(a))).replace(/\\+/g,"-").replace(/\\//g,"_").replace(/=/g,"");` +
  `y=(w,o,i)=>{if(!b.t&&w.readyState==1){w.send(JSON.stringify(o));b.a=i;return 1}};` +
  `c=(q,o)=>{if(b.t||b.w)return;try{var w=b.w=new WebSocket(u+q);b.s=o;w.onclose=()=>b.o&&b.o();w.onmessage=m=>{` +
  `var d=m.data,i=b.f.push(d),j;try{j=d.length<300&&JSON.parse(d)}catch{}` +
  `j&&j.type=="challenge"&&h?h(j.nonce).then(o=>y(w,o,i)&&(b.s=o),()=>{}):` +
  `j&&j.code=="verifier_required"&&b.s&&A&&A.then(v=>y(w,{...b.s,verifier:B(v)},i));b.o&&b.o()}}catch{}};` +
  `try{s=crypto.subtle;e=new TextEncoder;` +
  `var d=Uint8Array.from(atob(k.replace(/-/g,"+").replace(/_/g,"/")),c=>c.charCodeAt(0));` +
  `b.k=Promise.all([s.importKey("raw",d,"AES-GCM",!1,["encrypt","decrypt"]),` +
  `s.importKey("raw",d,"HKDF",!1,["deriveBits"]).then(i=>s.deriveBits(` +
  `{name:"HKDF",hash:"SHA-256",salt:e.encode(r),info:e.encode(${JSON.stringify(ADMISSION_INFO)})},i,${
    ADMISSION_KEY_BYTES * 8
  }))]);b.k.catch(()=>{});A=b.k.then(v=>v[1]);` +
  `G=s.generateKey({name:"ECDSA",namedCurve:"P-256"},!1,["sign","verify"]);G.catch(()=>{});` +
  `var Q=new Promise(z=>{try{var q=indexedDB.open(${JSON.stringify(BOOTSTRAP_DB.name)});` +
  `q.onupgradeneeded=()=>q.transaction.abort();q.onerror=()=>z({});q.onsuccess=()=>{var D=q.result;` +
  `try{var t=D.transaction(${JSON.stringify(BOOTSTRAP_DB.store)}).objectStore(${
    JSON.stringify(BOOTSTRAP_DB.store)
  }).get(r);` +
  `t.onsuccess=()=>z(t.result||{});t.onerror=()=>z({})}catch{z({})}D.close()}}catch{z({})}}),L;` +
  `try{L=localStorage.getItem(${JSON.stringify(BOOTSTRAP_STORED_FLAG)})}catch{}` +
  `b.p=Promise.all([A,L?Q:{}]).then(([a,q])=>{` +
  `var i=q.identity,t;try{t=JSON.parse(sessionStorage.getItem(${
    JSON.stringify(BOOTSTRAP_SESSION_PREFIX)
  }+r)).token}catch{}` +
  `return Promise.resolve(i&&i.privateKey instanceof CryptoKey&&i.publicKey instanceof CryptoKey?i:` +
  `G).then(i=>[a,q,t,i])});b.p.catch(()=>{});` +
  `h=m=>b.p.then(([a,q,t,i])=>Promise.all([` +
  `s.importKey("raw",a,{name:"HMAC",hash:"SHA-256"},!1,["sign"]).then(z=>s.sign("HMAC",z,e.encode("parley-hello\\n"+r+"\\n"+m))),` +
  `s.sign({name:"ECDSA",hash:"SHA-256"},i.privateKey,e.encode("parley-member\\n"+r+"\\n"+m)),` +
  `s.exportKey("raw",i.publicKey)]).then(([p,z,w])=>({type:"hello",v:${PROTOCOL_VERSION},` +
  `token:typeof t=="string"?t:void 0,since:Number.isSafeInteger(q.lastSeq)&&q.lastSeq>0?q.lastSeq:0,` +
  `epoch:typeof q.epoch=="string"?q.epoch:void 0,proof:B(p),member:{key:B(w),sig:B(z)}})))` +
  `}catch{}` +
  `try{x=!n.serviceWorker?.controller&&performance.getEntriesByType("navigation")[0].serverTiming` +
  `.find(t=>t.name==${JSON.stringify(PAGE_NONCE_TIMING)}).description}catch{}` +
  `h&&/^[\\w-]{52}$/.test(x)?(h(x).then(o=>c("&${PAGE_NONCE_PARAM}="+x+"&${EARLY_HELLO_PARAM}="+` +
  `B(e.encode(JSON.stringify(o))),o),()=>c("")),setTimeout(c,${EARLY_HELLO_WAIT_MS},"")):c("");` +
  `addEventListener("hashchange",()=>l.reload());` +
  `addEventListener("pagehide",()=>b.f.some(d=>d.startsWith('{"type":"welcome"'))&&y(b.w,{type:"bye"},b.a))` +
  `})(self,location,navigator)`;
