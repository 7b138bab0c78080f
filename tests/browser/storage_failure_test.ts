/**
 * A phone whose disk fills up: phone A is Chromium with its profile on a small
 * tmpfs that the test fills to the last byte, so IndexedDB's writes fail the
 * way they do on a full phone (Chromium answers UnknownError "FILE_ERROR_NO_SPACE"
 * and closes the connection; a new open fails). Phone B is a plain Chromium.
 * The real app is served on loopback.
 *
 * Checked: the room goes on in memory with a visible notice, messages still
 * cross both ways, the page never crashes or throws; once space returns the
 * store reopens by itself, writes back what lived only in memory (read from
 * IndexedDB itself), and the notice goes; a page whose IndexedDB cannot open at
 * all works in memory from the start. (Whether a volatile ack may show "Delivered" is the
 * courier's concern, not asserted here.)
 *
 * Needs root for `mount -t tmpfs`: the test fails loudly when it cannot mount.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { serveApp } from "../support/app.ts";
import { CHROMIUM_ARGS, CHROMIUM_PATH, launchChromium } from "../support/chromium.ts";
import { Prng } from "../support/prng.ts";

const PHONE = { width: 360, height: 640 };
/** Generous waits: nothing here asserts time. The store's reopen backoff is capped at 30 s. */
const SLOW = { timeout: 60_000 };
/** Room for Chromium's profile (a few MB) and some chat, small enough to fill in a moment. */
const TMPFS_SIZE = "64m";
/** How often the disk hog takes back what Chromium freed. */
const HOG_INTERVAL_MS = 10;
/** The notice's words (English: Playwright's default locale). */
const NOTICE = "This device cannot save the chat right now";

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  const { success, stdout, stderr } = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  return { ok: success, output: text.decode(stdout) + text.decode(stderr) };
}

/** Mounts a tmpfs of `size` on `dir`, or throws: a test that cannot make a full disk must not pass. */
async function mountTmpfs(dir: string, size: string): Promise<void> {
  const mounted = await run("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", dir]);
  if (!mounted.ok) {
    throw new Error(
      `cannot mount a tmpfs on ${dir} (this test needs root to make a small disk): ${mounted.output.trim()}`,
    );
  }
}

/** Writes to `file` until the filesystem has no byte left. */
async function topUp(file: Deno.FsFile): Promise<void> {
  for (const size of [256 * 1024, 4 * 1024, 1]) {
    const block = new Uint8Array(size).fill(0x5a);
    for (;;) {
      try {
        if ((await file.write(block)) === 0) break;
      } catch (error) {
        if (error instanceof Error && /space|ENOSPC|os error 28/i.test(error.message)) break;
        throw error;
      }
    }
  }
}

/**
 * Keeps a filesystem full, as a phone does while another app fills it: Chromium frees a little now and then
 * (a failed write drops its half-written file, LevelDB deletes old logs), and the hog takes it back at once.
 */
class DiskHog {
  #path: string;
  #running = true;
  #task: Promise<void>;
  #filled: Promise<void>;

  /** Fills the filesystem of `path` and keeps it full until {@link DiskHog.release}. */
  constructor(path: string) {
    this.#path = path;
    let filled!: () => void;
    this.#filled = new Promise((resolve) => filled = resolve);
    this.#task = this.#run(filled);
  }

  /** Resolves once the filesystem is full the first time. */
  full(): Promise<void> {
    return Promise.race([this.#filled, this.#task]);
  }

  async #run(filled: () => void): Promise<void> {
    const file = await Deno.open(this.#path, { write: true, create: true, truncate: true });
    try {
      await topUp(file);
      filled();
      while (this.#running) {
        await new Promise((resolve) => setTimeout(resolve, HOG_INTERVAL_MS));
        await topUp(file);
      }
    } finally {
      file.close();
    }
  }

  /** Stops and deletes the filler: space returns. */
  async release(): Promise<void> {
    this.#running = false;
    await this.#task;
    await Deno.remove(this.#path);
  }
}

async function freeSpace(dir: string): Promise<number> {
  const { output } = await run("df", ["--output=avail", "-k", dir]);
  return Number(output.trim().split("\n").at(-1));
}

/**
 * `label` followed by about 16,000 characters of letters that do not compress: more than a filesystem page, so the
 * write needs new blocks whatever slack the database's files had on the full disk.
 */
function bulky(label: string): string {
  const rng = new Prng(label.length);
  let text = label + " ";
  while (text.length < 16_000) text += String.fromCharCode(rng.int(97, 122)) + (rng.chance(0.15) ? " " : "");
  return text;
}

async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
}

function notice(page: Page) {
  return page.getByRole("status").filter({ hasText: NOTICE });
}

/** The message bodies in the page's IndexedDB, read directly: what a reload would find. */
function storedBodies(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    new Promise<string[]>((resolve, reject) => {
      const open = indexedDB.open("parley");
      open.onerror = () => reject(open.error);
      open.onsuccess = () => {
        const db = open.result;
        const request = db.transaction("messages").objectStore("messages").getAll();
        request.onsuccess = () => {
          db.close();
          resolve((request.result as { body: string }[]).map((row) => row.body));
        };
        request.onerror = () => reject(request.error);
      };
    })
  );
}

Deno.test({
  name: "a phone whose disk fills up keeps chatting in memory with a notice, and saves again when space returns",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "parley-full-disk-" });
    const filler = `${dir}/filler`;
    await mountTmpfs(dir, TMPFS_SIZE);
    let hog: DiskHog | undefined;
    const app = await serveApp();
    let contextA: BrowserContext | undefined;
    const browserB = await launchChromium();
    try {
      contextA = await chromium.launchPersistentContext(`${dir}/profile`, {
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: PHONE,
      });
      const pageA = contextA.pages()[0] ?? await contextA.newPage();
      pageA.on("console", (m) => console.log("A", m.type(), m.text().slice(0, 200)));
      const pageB = await (await browserB.newContext({ viewport: PHONE })).newPage();
      const errors: string[] = [];
      const crashes: string[] = [];
      for (const [who, page] of [["A", pageA], ["B", pageB]] as const) {
        page.on("pageerror", (error) => errors.push(`${who}: ${error.message}`));
        page.on("crash", () => crashes.push(who));
      }
      let link = "";

      await t.step("with room on disk: A starts a chat, B joins, a message is delivered and stored", async () => {
        await pageA.goto(app.origin + "/");
        await pageA.getByRole("button", { name: "New chat" }).click();
        await pageA.waitForURL(/#/);
        link = pageA.url();
        await pageA.getByRole("log", { name: "Messages" }).waitFor(SLOW);
        await pageB.goto(link);
        await pageB.getByRole("log", { name: "Messages" }).waitFor(SLOW);
        await send(pageA, "saved before the disk filled");
        await pageB.getByRole("log").getByText("saved before the disk filled").waitFor(SLOW);
        await pageA.getByRole("log").getByRole("listitem").last().getByText("Delivered", { exact: true }).waitFor(SLOW);
        assertEquals(await notice(pageA).count(), 0, "no notice while storage works");
        assert((await storedBodies(pageA)).includes("saved before the disk filled"));
      });

      await t.step("the disk fills: A's next write fails, the room goes on in memory and says so", async () => {
        hog = new DiskHog(filler);
        await hog.full();
        assertEquals(await freeSpace(dir), 0, "the disk is full");
        await send(pageA, bulky("written on a full disk"));
        await notice(pageA).waitFor(SLOW);
        await pageA.getByRole("log").getByText("written on a full disk").waitFor(SLOW);
      });

      await t.step("messages still cross both ways while A lives in memory", async () => {
        await pageB.getByRole("log").getByText("written on a full disk").waitFor(SLOW);
        await send(pageB, "a reply to the full phone");
        await pageA.getByRole("log").getByText("a reply to the full phone").waitFor(SLOW);
        await send(pageA, "still talking from memory");
        await pageB.getByRole("log").getByText("still talking from memory").waitFor(SLOW);
        await pageA.getByRole("log").getByRole("listitem").filter({ hasText: "still talking from memory" })
          .getByText(/^(Sent|Delivered)$/).waitFor(SLOW);
        assert(await notice(pageA).isVisible(), "the notice stays while storage is away");
      });

      await t.step(
        "space returns: the store reopens by itself, writes back what lived in memory, the notice goes",
        async () => {
          await hog!.release();
          hog = undefined;
          await notice(pageA).waitFor({ state: "detached", ...SLOW });
          const stored = await storedBodies(pageA);
          for (
            const body of [
              "saved before the disk filled",
              bulky("written on a full disk"),
              "a reply to the full phone",
              "still talking from memory",
            ]
          ) {
            assert(stored.includes(body), `"${body.slice(0, 40)}" is in IndexedDB after the write-back`);
          }
        },
      );

      await t.step("a page whose IndexedDB cannot open (a newer schema) works in memory from the start", async () => {
        const page = await (await browserB.newContext({ viewport: PHONE })).newPage();
        page.on("pageerror", (error) => errors.push(`C: ${error.message}`));
        page.on("crash", () => crashes.push("C"));
        await page.goto(app.origin + "/");
        // What a newer Parley in another tab leaves: the database at a version this page cannot open.
        await page.evaluate(() =>
          new Promise<void>((resolve, reject) => {
            const request = indexedDB.open("parley", 99);
            request.onsuccess = () => {
              request.result.close();
              resolve();
            };
            request.onerror = () => reject(request.error);
          })
        );
        await page.goto(link);
        await page.getByRole("log", { name: "Messages" }).waitFor(SLOW);
        await notice(page).waitFor(SLOW);
        await page.getByRole("log").getByText("saved before the disk filled").waitFor(SLOW);
        await send(page, "from a page that cannot store");
        await pageA.getByRole("log").getByText("from a page that cannot store").waitFor(SLOW);
      });

      assertEquals(crashes, [], "no page crashed");
      assertEquals(errors, [], "no page threw");
    } finally {
      await hog?.release();
      await contextA?.close().catch(() => {});
      await browserB.close();
      await app.close();
      const unmounted = await run("umount", [dir]);
      if (!unmounted.ok) await run("umount", ["-l", dir]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
