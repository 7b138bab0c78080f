import { Head } from "$fresh/runtime.ts";
import type { Handlers, PageProps } from "$fresh/server.ts";

const ROOM_ID = /^[A-Za-z0-9_-]{22}$/;

/** Only well-formed room ids get a room page; anything else is a 404. */
export const handler: Handlers = {
  GET(_req, ctx) {
    return ROOM_ID.test(ctx.params.room) ? ctx.render() : ctx.renderNotFound();
  },
};

/** The room page. The chat island comes with the client core. */
export default function Room({ params }: PageProps) {
  return (
    <main class="max-w-xl mx-auto px-6 py-16">
      <Head>
        <title>Chat · Parley</title>
      </Head>
      <h1 class="text-2xl font-bold">Chat room</h1>
      <p class="mt-4 text-slate-600 dark:text-slate-300">
        Room <code class="font-mono">{params.room}</code>. The conversation view is on its way.
      </p>
    </main>
  );
}
