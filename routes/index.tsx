import { Head } from "$fresh/runtime.ts";
import NewChat from "../islands/NewChat.tsx";

/** The landing page: one action, "New chat". */
export default function Landing() {
  return (
    <main class="max-w-xl mx-auto px-6 py-16 sm:py-24">
      <Head>
        <meta name="description" content="Private chat that keeps working on bad mobile networks." />
      </Head>
      <h1 class="text-4xl font-bold tracking-tight">Parley</h1>
      <p class="mt-4 text-lg text-slate-600 dark:text-slate-300">
        Private chat between browsers that keeps working on bad mobile networks. Start a chat, send the link, and talk:
        messages are end-to-end encrypted and never lost.
      </p>
      <div class="mt-10">
        <NewChat label="New chat" />
      </div>
    </main>
  );
}
