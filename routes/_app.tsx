import type { AppProps } from "$fresh/server.ts";
import { langOfPage } from "../lib/ui/mod.ts";

/** The document around every page: language, PWA manifest, icons and theme colours. */
export default function App({ Component, data, url }: AppProps) {
  return (
    <html lang={langOfPage(data, url)}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover" />
        <meta name="color-scheme" content="light dark" />
        <meta name="theme-color" content="#047857" media="(prefers-color-scheme: light)" />
        <meta name="theme-color" content="#0f172a" media="(prefers-color-scheme: dark)" />
        <meta name="referrer" content="no-referrer" />
        <title>Parley</title>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <link rel="apple-touch-icon" href="/icons/icon-192.png" />
        <link rel="manifest" href="/manifest.webmanifest" />
      </head>
      <body class="min-h-screen bg-slate-50 text-slate-900 dark:bg-slate-900 dark:text-slate-100 antialiased">
        <Component />
      </body>
    </html>
  );
}
