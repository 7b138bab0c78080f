/**
 * The composer's input-method (IME) scenario, as one self-contained in-page
 * function that every driver can run in the UI harness page: it dispatches
 * the events a browser fires while a Japanese IME composes (compositionstart,
 * input, keydown Enter with isComposing and with keyCode 229, compositionend),
 * then a plain Enter, and reports after each what was sent and what the box
 * holds. {@link assertImeReport} checks the report in the test.
 * @module
 */
import { assertEquals } from "@std/assert";

/** What one step of the scenario left behind. */
export interface ImeStep {
  /** What the step did. */
  step: string;
  /** Whether the keydown's default action was prevented (the composer does so only when it sends). */
  prevented: boolean;
  /** The message box's text after the step. */
  value: string;
  /** The bodies sent since the scenario started. */
  sent: string[];
}

/** Runs in the UI harness page (tests/browser/_ui_harness.tsx); returns one entry per step. */
export async function imeScenario(): Promise<ImeStep[]> {
  const box = document.querySelector("textarea[name=message]") as HTMLTextAreaElement;
  const room = (globalThis as unknown as { __room: { calls: string[] } }).__room;
  const start = room.calls.length;
  const steps: ImeStep[] = [];
  // Preact renders in a microtask after a state change; a task later the handlers see the new text.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  const setValue = (value: string, inputType: string, isComposing: boolean) => {
    Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value")!.set!.call(box, value);
    box.dispatchEvent(new InputEvent("input", { bubbles: true, data: value, inputType, isComposing }));
  };
  const enter = (step: string, init: { isComposing: boolean; keyCode: number }) => {
    const event = new KeyboardEvent("keydown", {
      key: "Enter",
      code: "Enter",
      keyCode: init.keyCode,
      which: init.keyCode,
      isComposing: init.isComposing,
      bubbles: true,
      cancelable: true,
    } as KeyboardEventInit);
    // Engines that ignore the legacy keyCode member of the init dictionary still get it.
    if (event.keyCode !== init.keyCode) Object.defineProperty(event, "keyCode", { get: () => init.keyCode });
    box.dispatchEvent(event);
    const sent = room.calls.slice(start).filter((call) => call.startsWith("send:")).map((call) => call.slice(5));
    steps.push({ step, prevented: event.defaultPrevented, value: box.value, sent });
  };

  box.focus();
  box.dispatchEvent(new CompositionEvent("compositionstart", { bubbles: true, data: "" }));
  setValue("にほん", "insertCompositionText", true);
  await settle();
  enter("Enter confirming a composition (isComposing, keyCode 229)", { isComposing: true, keyCode: 229 });
  await settle();
  enter("Enter while composing, isComposing unset (keyCode 13)", { isComposing: false, keyCode: 13 });
  await settle();
  box.dispatchEvent(new CompositionEvent("compositionend", { bubbles: true, data: "日本" }));
  setValue("日本", "insertFromComposition", false);
  await settle();
  enter("Safari: Enter after compositionend (keyCode 229, isComposing unset)", { isComposing: false, keyCode: 229 });
  await settle();
  enter("a plain Enter afterwards", { isComposing: false, keyCode: 13 });
  await settle();
  return steps;
}

/** Asserts the scenario's report: no IME Enter sent or was swallowed, and the plain Enter sent the text once. */
export function assertImeReport(steps: ImeStep[]): void {
  assertEquals(steps.map((s) => s.step), [
    "Enter confirming a composition (isComposing, keyCode 229)",
    "Enter while composing, isComposing unset (keyCode 13)",
    "Safari: Enter after compositionend (keyCode 229, isComposing unset)",
    "a plain Enter afterwards",
  ]);
  const [confirm, composing, safari, plain] = steps;
  for (const ime of [confirm, composing, safari]) {
    assertEquals(ime.sent, [], `${ime.step}: nothing is sent`);
    assertEquals(ime.prevented, false, `${ime.step}: the input method gets its Enter`);
  }
  assertEquals([confirm.value, composing.value, safari.value], ["にほん", "にほん", "日本"], "the text stays");
  assertEquals(plain.sent, ["日本"], "the plain Enter sends the composed text, once");
  assertEquals(plain.prevented, true, "and no newline is inserted");
}
