import { useEffect, useState } from "preact/hooks";
import { copyText } from "./copy_text.ts";
import type { RoomWords } from "./i18n.ts";
import type { QrPath } from "./qr.ts";
import * as UI from "./styles.ts";

/** Props of the invite panel. */
export interface InvitePanelProps {
  /** The full invite link, fragment (key) included. */
  link: string;
  /** The UI strings. */
  t: RoomWords;
}

/** The invite link to copy, share (Web Share, where the browser has it) or scan as a QR code. */
export function InvitePanel({ link, t }: InvitePanelProps) {
  const [notice, setNotice] = useState("");
  const [qr, setQr] = useState<QrPath | null>(null);
  const canShare = typeof navigator !== "undefined" && typeof navigator.share === "function";

  useEffect(() => {
    let live = true;
    import("./qr.ts").then(({ qrPath }) => live && setQr(qrPath(link)), (error) => {
      console.error("Parley: the QR code module failed to load", error);
    });
    return () => {
      live = false;
    };
  }, [link]);

  return (
    <section class={UI.panel} aria-labelledby="invite-title">
      <h2 id="invite-title" class={UI.panelTitle}>{t.invite}</h2>
      <label for="invite-link" class={UI.label}>{t.inviteLink}</label>
      <input
        id="invite-link"
        class={UI.field}
        readOnly
        value={link}
        onFocus={(event) => event.currentTarget.select()}
      />
      {/* The code beside the words, so the drawer shows all of it on a phone without scrolling. */}
      <div class={UI.inviteRow}>
        <div class={UI.inviteWords}>
          <p class={UI.hint}>{t.inviteHint}</p>
          <div class={UI.actions}>
            <button
              type="button"
              class={UI.primary}
              onClick={async () => setNotice(await copyText(link) ? t.linkCopied : t.copyFailed)}
            >
              {t.copyLink}
            </button>
            {canShare && (
              <button
                type="button"
                class={UI.secondary}
                onClick={() =>
                  navigator.share({ title: t.appName, url: link }).catch((error: DOMException) => {
                    if (error.name !== "AbortError") console.warn("Parley: sharing failed", error);
                  })}
              >
                {t.share}
              </button>
            )}
            <span role="status" class={UI.notice}>{notice}</span>
          </div>
        </div>
        {qr && (
          <svg
            class={UI.qr}
            role="img"
            aria-label={t.qrCode}
            viewBox={`0 0 ${qr.size} ${qr.size}`}
            shape-rendering="crispEdges"
          >
            <path d={qr.d} fill="#000" />
          </svg>
        )}
      </div>
    </section>
  );
}
