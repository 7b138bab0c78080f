import { useState } from "preact/hooks";
import { createRoomLink } from "../lib/client/room_link.ts";

/** Props of the "New chat" button. */
export interface NewChatProps {
  /** The button's text, localised by the page. */
  label: string;
}

/** Creates a room with a fresh key and opens it. */
export default function NewChat({ label }: NewChatProps) {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class="w-full sm:w-auto px-6 py-3 rounded-xl bg-emerald-600 text-white text-lg font-semibold shadow hover:bg-emerald-700 focus:outline-none focus-visible:ring-4 focus-visible:ring-emerald-300 disabled:opacity-60"
      disabled={busy}
      onClick={() => {
        setBusy(true);
        location.assign(createRoomLink().href);
      }}
    >
      {label}
    </button>
  );
}
