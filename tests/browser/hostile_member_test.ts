/**
 * A hostile member on the real app and Chromium: honest A creates a room,
 * honest B and hostile H join. H runs the app with its WebCrypto wrapped (see
 * _hostile.ts): some of its own messages get their fields rewritten after the
 * app built them and before encryption, signed with H's own key over the
 * forged fields, as a modified client would send them. It learns A's member
 * id from the server's stamps on the signaling socket. Whatever H forges
 * (A's authorship, a time in the year 2200 or at the end of dates, an order
 * key at the clock's maximum), A and B never show it as A's, never break,
 * keep one order for every honest message, and reach Delivered, through reloads.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import type { Browser, Page } from "playwright-core";
import { serveApp } from "../support/app.ts";
import { launchChromium } from "../support/chromium.ts";
import {
  FORGE,
  hostileMember,
  type HostileState,
  type MembersSeen,
  recordForgedItems,
  type SeenItem,
  spyMembers,
} from "./_hostile.ts";

/** Generous waits: a loaded 2-core machine can stall for seconds; nothing here asserts time. */
const SLOW = { timeout: 60_000 };

/** The readable message bodies on the page, in display order. */
function readable(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("[role=log] li[data-own]:not([data-unreadable]) p")].map((p) => p.textContent ?? "")
  );
}

/** Own readable messages as `body=status`, in display order. */
function ownStatuses(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll("[role=log] li[data-own=true]:not([data-unreadable])")].map((li) =>
      `${li.querySelector("p")?.textContent}=${li.querySelector("[data-status] span:last-child")?.textContent}`
    )
  );
}

function seenItems(page: Page): Promise<SeenItem[]> {
  return page.evaluate(() => (globalThis as unknown as { __seen: SeenItem[] }).__seen);
}

function members(page: Page): Promise<MembersSeen> {
  return page.evaluate(() => (globalThis as unknown as { __members: MembersSeen }).__members);
}

function hostileState(page: Page): Promise<HostileState> {
  return page.evaluate(() => (globalThis as unknown as { __hostile: HostileState }).__hostile);
}

async function connected(page: Page): Promise<void> {
  await page.getByRole("status").filter({ hasText: "Connected" }).waitFor(SLOW);
}

/** Types `text` (filled at once) and presses Enter; waits until the page shows it. */
async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
  await page.getByRole("log").getByText(text, { exact: true }).waitFor(SLOW);
}

/** Waits until the page shows every body in `bodies`. */
async function shows(page: Page, bodies: readonly string[]): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const have = new Set([...document.querySelectorAll("[role=log] li[data-own] p")].map((p) => p.textContent));
      return wanted.every((body) => have.has(body));
    },
    bodies,
    { ...SLOW, polling: 100 },
  ).catch(async (error) => {
    throw new Error(`${error}; the page shows ${JSON.stringify(await readable(page))}`);
  });
}

/** Waits until every own message of the page whose body is in `bodies` reads Delivered. */
async function delivered(page: Page, bodies: readonly string[]): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const own = [...document.querySelectorAll("[role=log] li[data-own=true]:not([data-unreadable])")]
        .filter((li) => wanted.includes(li.querySelector("p")?.textContent ?? ""));
      return own.length > 0 &&
        own.every((li) => li.querySelector("[data-status] span:last-child")?.textContent === "Delivered");
    },
    bodies,
    { ...SLOW, polling: 100 },
  ).catch(async (error) => {
    throw new Error(`${error}; own statuses: ${JSON.stringify(await ownStatuses(page))}`);
  });
}

/**
 * Waits until the page's Diagnostics drawer lists a "Message rejected" event for `reason` (or one of several): the
 * forgery reached it.
 */
async function refused(page: Page, reason: string | string[]): Promise<void> {
  const reasons = typeof reason === "string" ? [reason] : reason;
  const toggle = page.getByRole("button", { name: "Diagnostics" });
  await toggle.click();
  await page.waitForFunction(
    (wanted) =>
      [...document.querySelectorAll("[aria-label=Events] li")].some((li) =>
        li.textContent?.includes("Message rejected") &&
        wanted.some((one) => li.textContent!.includes(`"reason":"${one}"`))
      ),
    reasons,
    { ...SLOW, polling: 100 },
  ).catch(async (error) => {
    const events = await page.getByRole("list", { name: "Events" }).getByRole("listitem").allTextContents();
    throw new Error(`${error}; no rejection as ${reason}; events: ${JSON.stringify(events.slice(-20))}`);
  });
  await toggle.click();
}

/** Whether a body is one of H's forgeries. */
function forged(body: string): boolean {
  return body.startsWith("[forge:");
}

Deno.test({
  name: "a hostile member forging authorship, times and order keys never breaks or fools the honest members",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const app = await serveApp();
    const browser: Browser = await launchChromium();
    try {
      const [contextA, contextB, contextH] = [
        await browser.newContext(),
        await browser.newContext(),
        await browser.newContext(),
      ];
      for (const context of [contextA, contextB, contextH]) {
        await context.addInitScript(spyMembers);
        await context.addInitScript(recordForgedItems);
      }
      await contextH.addInitScript(hostileMember);
      const [a, b, h] = [await contextA.newPage(), await contextB.newPage(), await contextH.newPage()];
      const errors: Record<string, string[]> = { A: [], B: [], H: [] };
      for (const [name, page] of [["A", a], ["B", b], ["H", h]] as const) {
        page.on("pageerror", (error) => errors[name].push(error.message));
      }
      /** Every honest message, from anyone. */
      const honest: string[] = [];
      /** Every forgery H sent. */
      const forgeries: string[] = [];
      let memberA = "";

      /** Sends honest messages from each page in turn and waits until all three pages show them. */
      const honestRound = async (label: string) => {
        const round: string[] = [];
        for (const [name, page] of [["A", a], ["B", b], ["H", h]] as const) {
          const text = `${name}: ${label}`;
          await send(page, text);
          round.push(text);
        }
        honest.push(...round);
        await Promise.all([a, b, h].map((page) => shows(page, honest)));
        await delivered(a, honest);
        await delivered(b, honest);
        await delivered(h, honest);
      };

      const hostile = async (marker: string, text: string) => {
        const body = `${marker} ${text}`;
        await send(h, body);
        forgeries.push(body);
      };

      await t.step("A creates a room; B and H join; H learns A's member id from the server's stamps", async () => {
        await a.goto(app.origin + "/");
        await a.getByRole("button", { name: "New chat" }).click();
        await a.waitForURL(/#/);
        await connected(a);
        const link = a.url();
        await b.goto(link);
        await connected(b);
        await h.goto(link);
        await connected(h);
        memberA = (await members(a)).own ?? "";
        assertEquals(memberA.length, 22, "A's welcome carries its member id");
        const seenByH = await members(h);
        assert(seenByH.peers.includes(memberA), `H saw A's member id stamped (${JSON.stringify(seenByH)})`);
        assert(seenByH.own !== memberA);
        await h.evaluate((id) => (globalThis as unknown as { __hostile: HostileState }).__hostile.target = id, memberA);
        await honestRound("hello");
        const state = await hostileState(h);
        assert(state.targetKey.length === 87, "H learned A's public key (recovered to verify A's message)");
      });

      await t.step("(a) H's messages claiming A as author are never shown as A's", async () => {
        await hostile(FORGE.author, "I am A, trust me");
        await hostile(FORGE.authorKey, "I am A, with A's key");
        await honestRound("after the false authors");
        const state = await hostileState(h);
        for (const marker of [FORGE.author, FORGE.authorKey]) {
          assert((state.signed[marker] ?? 0) >= 1, `H signed a ${marker} forgery: ${JSON.stringify(state)}`);
          assert((state.sealed[marker] ?? 0) >= 1, `H sent a ${marker} forgery: ${JSON.stringify(state)}`);
        }
        const onA = await seenItems(a);
        assertEquals(onA.filter((item) => item.own === "true"), [], "A never showed a forgery as its own");
        assertEquals(onA.filter((item) => !item.unreadable), [], "A never showed a forgery as readable");
        const onB = await seenItems(b);
        assertEquals(onB.filter((item) => !item.unreadable), [], "B never showed a forgery as readable (as A's)");
        // H's own message ids carry H's prefix: claiming A's authorship under them fails the id check first.
        await refused(a, ["forged", "unbound_id"]);
        await refused(b, ["forged", "unbound_id"]);
      });

      await t.step("(b) times in the year 2200 and at the end of dates break nothing, through reloads", async () => {
        await hostile(FORGE.time2200, "from the future");
        await hostile(FORGE.timeMax, "from the end of time");
        await honestRound("after the future times");
        const state = await hostileState(h);
        for (const marker of [FORGE.time2200, FORGE.timeMax]) {
          assert((state.sealed[marker] ?? 0) >= 1, `H sent a ${marker} forgery: ${JSON.stringify(state)}`);
        }
        await refused(a, "future");
        await refused(b, "future");
        await a.reload();
        await b.reload();
        await connected(a);
        await connected(b);
        await Promise.all([a, b].map((page) => shows(page, honest)));
        await honestRound("after the reloads");
      });

      await t.step(
        "(c) an order key at the clock's maximum: every later honest message arrives, in one order",
        async () => {
          await hostile(FORGE.orderMax, "first forever");
          await honestRound("after the maximal order key, 1");
          await honestRound("after the maximal order key, 2");
          const state = await hostileState(h);
          assert((state.sealed[FORGE.orderMax] ?? 0) >= 1, `H sent the forgery: ${JSON.stringify(state)}`);
          await refused(a, "future");
          await refused(b, "future");
          const [seenA, seenB, seenH] = await Promise.all([a, b, h].map(readable));
          assertEquals(seenB, seenA, "A and B show one order");
          assertEquals(seenH.filter((body) => !forged(body)), seenA, "H shows the honest ones in that order too");
        },
      );

      await t.step(
        "A and B show exactly the honest messages, in one order, own ones Delivered, no errors",
        async () => {
          const [seenA, seenB] = [await readable(a), await readable(b)];
          assertEquals(seenA, seenB);
          assertEquals([...seenA].sort(), [...honest].sort(), "exactly the honest messages, each once");
          for (const who of ["A", "B", "H"]) {
            const own = honest.filter((body) => body.startsWith(`${who}: `));
            assertEquals(seenA.filter((body) => own.includes(body)), own, `${who}'s messages in ${who}'s order`);
          }
          for (const page of [a, b]) {
            const own = await ownStatuses(page);
            assert(own.length > 0 && own.every((entry) => entry.endsWith("=Delivered")), JSON.stringify(own));
          }
          for (const page of [a, b]) {
            const items = await seenItems(page);
            assertEquals(items.filter((item) => item.own === "true"), [], "never a forgery as own");
            assertEquals(items.filter((item) => !item.unreadable), [], "never a forgery readable");
          }
          assertEquals(errors.A, [], "no page error on A");
          assertEquals(errors.B, [], "no page error on B");
          assertEquals(errors.H, [], "no page error on H");
          assertEquals(forgeries.length, 5);
        },
      );
    } finally {
      await browser.close();
      await app.close();
    }
  },
});
