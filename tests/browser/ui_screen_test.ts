import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import type { Page } from "playwright-core";
import { seriousViolations } from "./_axe.ts";
import { withHarness } from "./_ui_harness_server.ts";

/** Where screenshots go; the README's images are taken from here. */
const SHOTS = Deno.env.get("PARLEY_SCREENSHOTS") ?? new URL("../../_screenshots", import.meta.url).pathname;
const PHONE = { width: 360, height: 640 };

/** What the fake room recorded, read from the page. */
function calls(page: Page): Promise<string[]> {
  return page.evaluate(() => (globalThis as unknown as { __room: { calls: string[] } }).__room.calls.slice());
}

Deno.test("the chat UI is driven by keyboard and buttons the way a user finds them", async (t) => {
  await withHarness(async (harness, browser) => {
    const context = await browser.newContext({ viewport: PHONE });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: harness.origin });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(harness.origin + "/");
    const log = page.getByRole("log", { name: "Messages" });
    const box = page.getByRole("textbox", { name: "Message" });

    await t.step("Enter sends and clears the box; the new message shows Sending", async () => {
      await box.fill("hello there");
      await box.press("Enter");
      await log.getByText("hello there").waitFor();
      assertEquals(await box.inputValue(), "");
      assertEquals((await calls(page)).filter((c) => c.startsWith("send:")), ["send:hello there"]);
      const last = log.getByRole("listitem").last();
      await last.getByText("Sending", { exact: true }).waitFor();
    });

    await t.step("Shift+Enter makes a new line instead of sending", async () => {
      await box.fill("first");
      await box.press("Shift+Enter");
      await box.pressSequentially("second");
      assertEquals(await box.inputValue(), "first\nsecond");
      await page.getByRole("button", { name: "Send" }).click();
      await log.getByText("first second").waitFor();
      assert((await calls(page)).includes("send:first\nsecond"));
      assert((await calls(page)).includes("typing"), "typing is reported while writing");
    });

    await t.step("a status turns Delivered when the room says so", async () => {
      await page.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        const room = (globalThis as any).__room;
        room.messages.value = room.messages.value.map((m: { own: boolean }) =>
          m.own ? { ...m, status: "delivered" } : m
        );
      });
      const statuses = await log.getByRole("listitem").filter({ has: page.locator("[data-status]") })
        .locator("[data-status] > span:not([aria-hidden])").allInnerTexts();
      assertEquals(new Set(statuses), new Set(["Delivered"]));
    });

    await t.step("Reconnecting counts down and Retry now asks the room to retry", async () => {
      await page.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        (globalThis as any).__room.connection.value = {
          kind: "reconnecting",
          nextAttemptAt: Date.now() + 30_000,
          attempt: 4,
        };
      });
      await page.getByRole("status").filter({ hasText: "Reconnecting" }).waitFor();
      await page.getByText(/next try in (29|30) s/).waitFor();
      await page.getByRole("button", { name: "Retry now" }).click();
      assert((await calls(page)).includes("retryNow"));
      await page.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        (globalThis as any).__room.connection.value = { kind: "offline" };
      });
      await page.getByRole("status").filter({ hasText: "Offline" }).waitFor();
      await box.fill("written offline");
      await box.press("Enter");
      await log.getByText("written offline").waitFor();
    });

    await t.step("the name is changed in its own small form", async () => {
      await page.getByRole("button", { name: "Your name" }).click();
      const name = page.getByRole("textbox", { name: "Your name" });
      assertEquals(await name.inputValue(), "Ivan");
      // The field takes focus once the drawer has rendered (an effect after the render the value shows in).
      await page.waitForFunction(() => document.activeElement?.id === "self-name", undefined, { timeout: 5_000 });
      await name.fill("Ivan P.");
      await name.press("Enter");
      assert((await calls(page)).includes("setName:Ivan P."));
      await name.waitFor({ state: "detached", timeout: 5_000 }); // the form closes after saving
      // Focus returns to the button, which now shows the saved name (and still says what it opens).
      assertEquals(
        await page.evaluate(() => [document.activeElement?.textContent, document.activeElement?.ariaLabel]),
        ["Ivan P.", "Your name: Ivan P."],
      );
      await page.getByRole("button", { name: "Your name" }).click();
      await page.getByRole("textbox", { name: "Your name" }).press("Escape");
      // The drawer leaves on the next render, after the key event: wait for that render, not for a fixed time.
      await page.getByRole("textbox", { name: "Your name" }).waitFor({ state: "detached", timeout: 5_000 });
      // An Escape in the drawer's first frame (before any effect of its render has run) closes it too.
      const stayed = await page.evaluate(async () => {
        document.getElementById("open-name")!.click();
        for (let i = 0; i < 5 && !document.getElementById("self-name"); i++) await Promise.resolve();
        const field = document.getElementById("self-name");
        if (!field) return "the drawer did not render within microtasks";
        field.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
        return null;
      });
      assertEquals(stayed, null);
      await page.getByRole("textbox", { name: "Your name" }).waitFor({ state: "detached", timeout: 5_000 });
      // Also with the focus outside the drawer (on the button that opened it, in the composer): it stays there.
      for (const [name, focus] of [["Invite", "#open-invite"], ["Diagnostics", "#composer-message"]]) {
        await page.getByRole("button", { name }).click();
        await page.locator("#room-panel > *").first().waitFor();
        await page.locator(focus).focus();
        await page.keyboard.press("Escape");
        await page.locator("#room-panel > *").first().waitFor({ state: "detached", timeout: 5_000 });
        assertEquals(await page.evaluate(() => "#" + document.activeElement?.id), focus, "the focus stays");
      }
    });

    await t.step("the invite drawer copies the whole link and draws its QR code", async () => {
      await page.getByRole("button", { name: "Invite" }).click();
      const link = await page.getByRole("textbox", { name: "Invite link" }).inputValue();
      assert(link.includes("#"), "the link keeps its key fragment");
      await page.getByRole("img", { name: "QR code of the invite link" }).waitFor();
      await page.getByRole("button", { name: "Copy link" }).click();
      await page.getByText("Link copied").waitFor();
      assertEquals(await page.evaluate(() => navigator.clipboard.readText()), link);
      await page.getByRole("button", { name: "Invite" }).click();
    });

    await t.step("the diagnostics drawer shows paths, candidates, RTT and copies a report", async () => {
      await page.getByRole("button", { name: "Diagnostics" }).click();
      const table = page.getByRole("table");
      await table.getByText("42 ms").waitFor();
      await table.getByText("relay → host (tcp)").waitFor();
      await page.getByRole("button", { name: "Copy report" }).click();
      await page.getByText("Report copied").waitFor();
      const report = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
      assertEquals(report.peers.length, 2);
      assertEquals(typeof report.counters.sent, "number");
      assertEquals(JSON.stringify(report).includes("k".repeat(43)), false, "the report never carries the key");
      await page.getByRole("button", { name: "Diagnostics" }).click();
    });

    await t.step("switching to Russian relabels the controls", async () => {
      await page.getByRole("button", { name: "Русский" }).click();
      await page.getByRole("button", { name: "Отправить" }).waitFor();
      await page.getByRole("textbox", { name: "Сообщение" }).waitFor();
      // The diagnostics say the connection state in Russian too (its code stays, for reports).
      await page.getByRole("button", { name: "Диагностика" }).click();
      await page.getByText(/Соединение: [А-Яа-яЁё ]+ \(\w+\)/).waitFor();
      await page.getByRole("button", { name: "Диагностика" }).click();
      await page.getByRole("button", { name: "English" }).click();
      await page.getByRole("button", { name: "Send" }).waitFor();
    });

    assertEquals(errors, []);
    await context.close();
  });
});

Deno.test("on a phone the room is one screen: a long history, the drawers and growing rows leave Send and the newest message in view", async (t) => {
  await withHarness(async (harness, browser) => {
    const page = await browser.newPage({ viewport: PHONE });
    await page.goto(harness.origin + "/");
    const log = page.locator("[role=log]"); // in either language
    // 40 more messages of several lines each: a history far taller than the screen.
    await page.evaluate(() => {
      const room = (globalThis as unknown as { __room: { messages: { value: Record<string, unknown>[] } } }).__room;
      const first = room.messages.value;
      const more = Array.from({ length: 40 }, (_, i) => ({
        ...first[i % first.length],
        id: `long-${i}`,
        body: `${"word ".repeat(60)}${i}`,
        time: (first.at(-1)!.time as number) + i,
      }));
      room.messages.value = [...first, ...more];
    });
    await log.getByText(/ 39$/).waitFor();
    /** How far the newest message's bottom lies below the list's visible bottom, in px (at most 0: all of it shows). */
    const newestHidden = () =>
      log.evaluate((list) =>
        list.querySelector("li:last-of-type")!.getBoundingClientRect().bottom -
        list.getBoundingClientRect().bottom
      );
    const sendBottom = async (name: string) => (await page.getByRole("button", { name, exact: true }).boundingBox())!;

    await t.step("the page itself never scrolls: it is exactly the screen's height", async () => {
      // The list's screen-reader-only labels once stretched the page by the history's height (13,241 px here).
      assertEquals(await page.evaluate(() => document.documentElement.scrollHeight), PHONE.height);
      assert(await newestHidden() <= 0.5, `newest message hidden by ${await newestHidden()} px`);
    });

    await t.step("rows above the list grow (Russian words): the newest message stays in view", async () => {
      await page.getByRole("button", { name: "Русский" }).click();
      await page.getByRole("button", { name: "Отправить" }).waitFor();
      await page.waitForTimeout(200);
      assert(await newestHidden() <= 0.5, `newest message hidden by ${await newestHidden()} px`);
    });

    await t.step(
      "the connection row (state, notifications, language, Leave) takes at most two rows, in Russian",
      async () => {
        await page.getByRole("combobox", { name: "Уведомления" }).waitFor();
        // An item starts a new row when it lies below every item of the row before; the notification setting's words
        // once made three.
        const rows = await page.locator("[data-connection]").evaluate((status) => {
          const boxes = [...status.closest("section")!.parentElement!.children]
            .map((item) => item.getBoundingClientRect()).sort((a, b) => a.top - b.top);
          const bottoms: number[] = [];
          for (const box of boxes) {
            if (bottoms.length === 0 || box.top >= bottoms[bottoms.length - 1] - 1) bottoms.push(box.bottom);
            else bottoms[bottoms.length - 1] = Math.max(bottoms[bottoms.length - 1], box.bottom);
          }
          return bottoms.length;
        });
        assert(rows <= 2, `the connection row takes ${rows} rows`);
      },
    );

    await t.step("a link that fits on a line is moved to the next line whole, not cut mid-word", async () => {
      // Words of growing length before the link put its start at every place of a line; `break-all` cut it there.
      await page.evaluate(() => {
        const room = (globalThis as unknown as { __room: { messages: { value: Record<string, unknown>[] } } }).__room;
        const last = room.messages.value.at(-1)!;
        const links = Array.from({ length: 24 }, (_, i) => ({
          ...last,
          id: `link-${i}`,
          body: `${"w".repeat(i + 1)} see https://example.com/page${i}`,
          time: (last.time as number) + 1 + i,
        }));
        room.messages.value = [...room.messages.value, ...links];
      });
      const anchors = log.locator('a[href^="https://example.com/page"]');
      await anchors.nth(23).waitFor();
      const lines = await anchors.evaluateAll((all) =>
        all.map((a) => new Set([...a.getClientRects()].map((rect) => Math.round(rect.top))).size)
      );
      assertEquals(lines, lines.map(() => 1), `lines per link: ${lines.join(", ")}`);
    });

    await t.step("a word longer than the screen wraps inside its bubble, in both directions", async () => {
      // `overflow-wrap: break-word` does not narrow a bubble that sizes to its content: it grew past the screen, and
      // the list clipped every line's start or end.
      await page.evaluate(() => {
        const room = (globalThis as unknown as { __room: { messages: { value: Record<string, unknown>[] } } }).__room;
        const last = room.messages.value.at(-1)!;
        const long = [
          { id: "word-own", own: true, body: "x".repeat(80) },
          { id: "word-other", own: false, body: `a paragraph with ${"y".repeat(100)} in the middle of it` },
        ].map((fields, i) => ({ ...last, ...fields, time: (last.time as number) + 100 + i }));
        room.messages.value = [...room.messages.value, ...long];
      });
      await log.getByText("x".repeat(80)).waitFor();
      const boxes = await log.evaluate((list) =>
        [...list.querySelectorAll("li p")].filter((p) => /x{80}|y{100}/.test(p.textContent ?? "")).map((p) => {
          const box = p.getBoundingClientRect();
          return { left: box.left, right: box.right, overflow: p.scrollWidth - p.clientWidth };
        })
      );
      assertEquals(boxes.length, 2);
      for (const box of boxes) {
        assert(box.left >= 0 && box.right <= PHONE.width, `a bubble from ${box.left} to ${box.right} px`);
        assert(box.overflow <= 0, `text runs ${box.overflow} px past its bubble`);
      }
    });

    await t.step(
      "a long history shows its newest 300; Show earlier messages adds 300 and keeps the reader's place",
      async () => {
        await page.evaluate(() => {
          // deno-lint-ignore no-explicit-any
          const room = (globalThis as any).__room;
          const last = room.messages.value.at(-1);
          const earlier = Array.from({ length: 650 }, (_, i) => ({
            ...last,
            id: `flood${i}`,
            body: `flood ${i}`,
            own: false,
            author: "peer-eve",
            status: "received",
            time: last.time - (650 - i) * 1_000,
          }));
          room.messages.value = [...earlier, ...room.messages.value];
        });
        const count = () => page.evaluate(() => document.querySelectorAll("[role=log] li[data-own]").length);
        await page.waitForFunction(() => document.querySelectorAll("[role=log] li[data-own]").length === 300);
        const more = page.getByRole("button", { name: /^(Show earlier messages|Показать более ранние сообщения)$/ });
        await more.scrollIntoViewIfNeeded();
        // The second row shown (the first loses its day and author heading once earlier rows come above it).
        const first = log.locator("li[data-own]").nth(1);
        const text = (await first.textContent())!;
        const top = (await first.boundingBox())!.y;
        await more.click();
        await page.waitForFunction(() => document.querySelectorAll("[role=log] li[data-own]").length === 600);
        await page.waitForTimeout(100);
        const again = log.locator("li[data-own]", { hasText: text.slice(0, 40) }).first();
        const moved = Math.abs((await again.boundingBox())!.y - top);
        assert(moved <= 2, `the row the reader saw moved by ${moved} px`);
        await more.click();
        await page.waitForFunction(() => document.querySelectorAll("[role=log] li[data-own]").length > 600);
        // deno-lint-ignore no-explicit-any
        const all = await page.evaluate(() => (globalThis as any).__room.messages.value.length);
        assertEquals(await count(), all, "all of it, and no button left");
        assertEquals(await more.count(), 0);
        // The pressed button is gone: focus is on the list, not dropped to the page's body (keyboard users).
        await page.waitForFunction(() => document.activeElement?.getAttribute("role") === "log");
      },
    );

    await t.step("with each drawer open, Send stays on the screen, in Russian", async () => {
      for (const drawer of ["Пригласить", "Ваше имя", "Диагностика"]) {
        // A named member's name button says "Ваше имя: <name>".
        const button = page.getByRole("button", { name: new RegExp(`^${drawer}(: |$)`) });
        await button.click();
        await page.waitForTimeout(200);
        const send = await sendBottom("Отправить");
        assert(send.y + send.height <= PHONE.height, `${drawer} open: Send ends at ${send.y + send.height} px`);
        assertEquals(await page.evaluate(() => document.documentElement.scrollHeight), PHONE.height, drawer);
        if (drawer === "Пригласить") {
          // The QR code shows whole without scrolling the drawer (it was cut off under the words).
          const hidden = await page.getByRole("img", { name: "QR-код ссылки-приглашения" }).evaluate((qr) => {
            const panel = document.getElementById("room-panel")!.getBoundingClientRect();
            const box = qr.getBoundingClientRect();
            return Math.max(0, box.bottom - panel.bottom, panel.top - box.top);
          });
          assert(hidden <= 0.5, `the QR code is cut by ${hidden} px`);
        }
        await button.click();
      }
    });
  });
});

Deno.test("the room screen has no serious accessibility violations, light and dark, English and Russian", async () => {
  await withHarness(async (harness, browser) => {
    for (const colorScheme of ["light", "dark"] as const) {
      for (const lang of ["en", "ru"]) {
        const context = await browser.newContext({ viewport: PHONE, colorScheme });
        const page = await context.newPage();
        await page.goto(`${harness.origin}/?lang=${lang}`);
        await page.getByRole("log").waitFor();
        assertEquals(await seriousViolations(page), [], `${colorScheme} ${lang}`);
        for (const drawer of lang === "en" ? ["Invite", "Diagnostics"] : ["Пригласить", "Диагностика"]) {
          await page.getByRole("button", { name: drawer }).click();
          await page.waitForTimeout(100);
          assertEquals(await seriousViolations(page), [], `${colorScheme} ${lang} ${drawer}`);
          await page.getByRole("button", { name: drawer }).click();
        }
        await context.close();
      }
    }
  });
});

Deno.test("screenshots of the room at phone and desktop size, light and dark", async () => {
  await Deno.mkdir(SHOTS, { recursive: true });
  await withHarness(async (harness, browser) => {
    const shots: [string, { width: number; height: number }, "light" | "dark", string][] = [
      ["room-phone-light.png", PHONE, "light", "en"],
      ["room-phone-dark.png", PHONE, "dark", "en"],
      ["room-phone-ru.png", PHONE, "light", "ru"],
      ["room-desktop.png", { width: 1280, height: 800 }, "light", "en"],
    ];
    for (const [file, viewport, colorScheme, lang] of shots) {
      const context = await browser.newContext({ viewport, colorScheme, deviceScaleFactor: 1 });
      const page = await context.newPage();
      await page.goto(`${harness.origin}/?lang=${lang}`);
      await page.getByRole("log").waitFor();
      await page.screenshot({ path: `${SHOTS}/${file}` });
      await context.close();
    }
    const invite = await browser.newContext({ viewport: PHONE });
    const page = await invite.newPage();
    await page.goto(harness.origin + "/");
    await page.getByRole("button", { name: "Invite" }).click();
    await page.getByRole("img", { name: "QR code of the invite link" }).waitFor();
    await page.screenshot({ path: `${SHOTS}/room-phone-invite.png` });
    await invite.close();
  });
  const written = [...Deno.readDirSync(SHOTS)].map((entry) => entry.name);
  assertStringIncludes(written.join(" "), "room-phone-light.png");
  console.log(`screenshots in ${SHOTS}`);
});
