import { useEffect, useState } from "preact/hooks";
import { createRoomLink } from "../lib/client/room_link.ts";
import { keepForcedLang } from "../lib/ui/lang_link.ts";
import { registerServiceWorker } from "../lib/ui/service_worker.ts";

/** Props of the "New chat" button. */
export interface NewChatProps {
  /** The button's text, localised by the page. */
  label: string;
}

/** Creates a room with a fresh key and opens it, keeping a language forced by `?lang=`. */
export default function NewChat({ label }: NewChatProps) {
  const [busy, setBusy] = useState(false);
  // The landing is where people install the app; the worker also keeps it for offline use.
  useEffect(registerServiceWorker, []);
  return (
    <button
      type="button"
      class="w-full sm:w-auto px-6 py-3 rounded-xl bg-emerald-700 text-white text-lg font-semibold shadow hover:bg-emerald-800 focus-visible:outline focus-visible:outline-4 focus-visible:outline-emerald-300 disabled:opacity-60"
      disabled={busy}
      onClick={() => {
        setBusy(true);
        const { room, key } = createRoomLink();
        location.assign(keepForcedLang(`/${room}#${key}`, location.search));
      }}
    >
      {label}
    </button>
  );
}
