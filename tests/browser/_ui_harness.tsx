/**
 * A browser page of the real chat components driven by a fake RoomView, so
 * browser tests can exercise the UI (keys, drawers, clipboard, languages,
 * screenshots, accessibility) without a network. The fake is exposed as
 * `globalThis.__room` for the test to change and inspect.
 * @module
 */
import { h, render } from "preact";
import { useState } from "preact/hooks";
import { type Lang, STRINGS } from "../../lib/ui/i18n.ts";
import { RoomScreen } from "../../lib/ui/RoomScreen.tsx";
import { fakeRoomView, sampleRoom } from "../ui/_fake_room_view.ts";

const params = new URLSearchParams(location.search);
const view = fakeRoomView(params.get("sample") === "0" ? {} : sampleRoom(Date.now()));
(globalThis as unknown as { __room: typeof view }).__room = view;

function Harness() {
  const [lang, setLang] = useState<Lang>(params.get("lang") === "ru" ? "ru" : "en");
  return h(RoomScreen, {
    view,
    lang,
    t: STRINGS[lang],
    onLang: (next: Lang) => {
      document.documentElement.lang = next;
      setLang(next);
    },
    inviteLink: `${location.origin}/AAAAAAAAAAAAAAAAAAAAAA#${"k".repeat(43)}`,
  });
}

render(h(Harness, null), document.getElementById("root")!);
