import { Head } from "$fresh/runtime.ts";

/** The page for paths that lead nowhere. */
export default function NotFound() {
  return (
    <main class="max-w-md mx-auto px-6 py-16 text-center">
      <Head>
        <title>Not found · Parley</title>
      </Head>
      <h1 class="text-2xl font-bold">Page not found</h1>
      <p class="mt-4 text-slate-600 dark:text-slate-400">
        This link does not lead to a chat. Check that it was copied whole.
      </p>
      <a class="inline-block mt-8 text-emerald-700 dark:text-emerald-400 underline" href="/">
        Start a new chat
      </a>
    </main>
  );
}
